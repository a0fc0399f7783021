from django.urls import path

from sentinelle.analysis.api.views import StatisticsView

urlpatterns = [
    path("statistics/", StatisticsView.as_view(), name="api-statistics"),
]
