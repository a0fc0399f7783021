from django.urls import path, register_converter

from sentinelle.analysis.api.links import LinkedIncidentsView, UnlinkView
from sentinelle.analysis.api.views import StatisticsView
from sentinelle.core.api.converters import IdConverter

register_converter(IdConverter, "id")

urlpatterns = [
    path("statistics/", StatisticsView.as_view(), name="api-statistics"),
    path("linked-incidents/", LinkedIncidentsView.as_view(), name="api-linked-incidents"),
    path("linked-incidents/<id:pk>/reports/<id:report>/", UnlinkView.as_view(),
         name="api-linked-incident-unlink"),
]
