from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("", include("sentinelle.core.urls")),
    path("", include("sentinelle.incidents.urls")),
    path("exchange/", include("sentinelle.exchange.urls")),
    path("taxii2/", include("sentinelle.exchange.taxii.urls")),
    path("analysis/", include("sentinelle.analysis.urls")),
    path("reports/", include("sentinelle.reports.urls")),
    path("action-plan/", include("sentinelle.actionplan.urls")),
    path("gateway/", include("sentinelle.gateway.urls")),
    path("observatory/", include("sentinelle.observatory.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("sentinelle.incidents.api.urls")),
    path("api/v1/", include("sentinelle.exchange.api.urls")),
    path("api/v1/", include("sentinelle.analysis.api.urls")),
    path("api/v1/", include("sentinelle.reports.api.urls")),
    path("api/v1/", include("sentinelle.actionplan.api.urls")),
    path("api/v1/", include("sentinelle.gateway.api.urls")),
    path("api/v1/", include("sentinelle.observatory.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
