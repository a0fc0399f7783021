from django.urls import path

from sentinelle.observatory import routing_page, views

urlpatterns = [
    path("", views.home, name="observatory"),
    path("submissions/<int:pk>/", views.submission_detail, name="observatory-submission"),
    path("submissions/<int:pk>/observations.csv", views.submission_csv,
         name="observatory-submission-csv"),
    path("submissions/<int:pk>/corroborate/", views.submission_corroborate,
         name="observatory-corroborate"),
    path("index/", views.access_index, name="observatory-index"),
    path("index.csv", views.access_index_csv, name="observatory-index-csv"),
    path("routing/", routing_page.routing, name="observatory-routing"),
    path("routing/watch.yaml", routing_page.routing_watch_download,
         name="observatory-routing-watch"),
]
