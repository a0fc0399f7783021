from django.urls import path

from sentinelle.gateway import feeds, views

urlpatterns = [
    path("", views.home, name="gateway"),
    path("search/", views.search_view, name="gateway-search"),
    path("moderation/", views.moderation, name="gateway-moderation"),
    path("statistics/", views.statistics, name="gateway-statistics"),
    path("export.json", views.export_json, name="gateway-export-json"),
    path("export.csv", views.export_csv, name="gateway-export-csv"),
    path("feeds/<slug:kind>.atom", feeds.KindFeed(), name="gateway-feed"),
    path("<slug:kind>/", views.entry_list, name="gateway-list"),
    path("<slug:kind>/new/", views.create, name="gateway-create"),
    path("<slug:kind>/<int:pk>/", views.detail, name="gateway-detail"),
    path("<slug:kind>/<int:pk>/edit/", views.edit, name="gateway-edit"),
    path("<slug:kind>/<int:pk>/translate/", views.translate, name="gateway-translate"),
    path("<slug:kind>/<int:pk>/<slug:action>/", views.moderate, name="gateway-moderate"),
]
