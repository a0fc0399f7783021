from django.urls import path

from sentinelle.observatory import campaign_views, routing_page, views

urlpatterns = [
    path("", views.home, name="observatory"),
    path("submissions/<int:pk>/", views.submission_detail, name="observatory-submission"),
    path("submissions/<int:pk>/observations.csv", views.submission_csv,
         name="observatory-submission-csv"),
    path("submissions/<int:pk>/corroborate/", views.submission_corroborate,
         name="observatory-corroborate"),
    path("index/", views.access_index, name="observatory-index"),
    path("index.csv", views.access_index_csv, name="observatory-index-csv"),
    path("campaigns/", campaign_views.campaign_list, name="observatory-campaigns"),
    path("campaigns/<int:pk>/", campaign_views.campaign_detail, name="observatory-campaign"),
    path("routing/", routing_page.routing, name="observatory-routing"),
    path("routing/watch.yaml", routing_page.routing_watch_download,
         name="observatory-routing-watch"),
]
