from django.urls import path, re_path

from sentinelle.exchange.taxii import views

urlpatterns = [
    path("", views.discovery, name="taxii-discovery"),
    path("<str:root>/", views.root, name="taxii-root"),
    path("<str:root>/collections/", views.collections, name="taxii-collections"),
    path("<str:root>/collections/<str:collection>/", views.collection, name="taxii-collection"),
    path("<str:root>/collections/<str:collection>/objects/", views.objects,
         name="taxii-objects"),
    path("<str:root>/collections/<str:collection>/objects/<str:object_id>/",
         views.object_detail, name="taxii-object"),
    path("<str:root>/collections/<str:collection>/objects/<str:object_id>/versions/",
         views.versions, name="taxii-versions"),
    path("<str:root>/collections/<str:collection>/manifest/", views.manifest,
         name="taxii-manifest"),
    path("<str:root>/status/<str:status_id>/", views.status, name="taxii-status"),
    # Last, and only for addresses ending in "/": one without it is still redirected there
    # (APPEND_SLASH) and then answered here.
    re_path(r"^(?P<path>.*/)$", views.not_found, name="taxii-not-found"),
]
