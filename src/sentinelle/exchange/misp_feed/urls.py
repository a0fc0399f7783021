from django.urls import path, re_path

from sentinelle.exchange.misp_feed import views

# Paths are matched strictly here (a collection name, a lower-case uuid): anything else,
# "..", encoded slashes or NULs included, never reaches a view and is a plain 404.
urlpatterns = [
    path("", views.index, name="misp-feed"),
    re_path(r"^(?P<collection>[a-z0-9-]{1,40})/manifest\.json$", views.manifest,
            name="misp-feed-manifest"),
    re_path(r"^(?P<collection>[a-z0-9-]{1,40})/hashes\.csv$", views.hashes,
            name="misp-feed-hashes"),
    re_path(r"^(?P<collection>[a-z0-9-]{1,40})/(?P<event_uuid>[0-9a-f]{8}-[0-9a-f]{4}-"
            r"[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.json$", views.event,
            name="misp-feed-event"),
]
