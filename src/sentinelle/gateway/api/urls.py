from django.urls import path

from sentinelle.gateway.api.views import GatewayListView

urlpatterns = [
    path("gateway/<slug:kind>/", GatewayListView.as_view(), name="api-gateway-list"),
]
