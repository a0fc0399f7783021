from django.urls import path

from sentinelle.analysis.api.links import LinkedIncidentsView, UnlinkView
from sentinelle.analysis.api.views import StatisticsView

urlpatterns = [
    path("statistics/", StatisticsView.as_view(), name="api-statistics"),
    path("linked-incidents/", LinkedIncidentsView.as_view(), name="api-linked-incidents"),
    path("linked-incidents/<int:pk>/reports/<int:report>/", UnlinkView.as_view(),
         name="api-linked-incident-unlink"),
]
