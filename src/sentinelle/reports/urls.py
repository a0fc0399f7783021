from django.urls import path

from sentinelle.reports import views

urlpatterns = [
    path("", views.report_list, name="reports"),
    path("<int:pk>/<str:part>/", views.report_download, name="report-download"),
]
