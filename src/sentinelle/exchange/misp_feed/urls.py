from django.urls import path, re_path

from sentinelle.exchange.misp_feed import conditional, views

# Strict patterns (conditional.py): anything else, "..", encoded slashes or NULs included, never
# reaches a view and is a plain 404.
urlpatterns = [
    path("", views.index, name="misp-feed"),
    re_path(conditional.MANIFEST_PATH, views.manifest, name="misp-feed-manifest"),
    re_path(conditional.HASHES_PATH, views.hashes, name="misp-feed-hashes"),
    re_path(conditional.EVENT_PATH, views.event, name="misp-feed-event"),
]
