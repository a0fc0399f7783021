from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from sentinelle import views
from sentinelle.core import views as core_views

# An API client gets JSON for a path no route matches, as for any other API error.
handler404 = "sentinelle.core.api.errors.page_not_found"
# A busy database outside a view (the session saved after it) is a 503, as inside one.
handler500 = "sentinelle.core.busy.server_error"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("", include("sentinelle.core.urls")),
    path("", include("sentinelle.incidents.urls")),
    path("exchange/", include("sentinelle.exchange.urls")),
    path("taxii2/", include("sentinelle.exchange.taxii.urls")),
    path("feeds/misp/", include("sentinelle.exchange.misp_feed.urls")),
    path("analysis/", include("sentinelle.analysis.urls")),
    path("reports/", include("sentinelle.reports.urls")),
    path("action-plan/", include("sentinelle.actionplan.urls")),
    path("gateway/", include("sentinelle.gateway.urls")),
    path("observatory/", include("sentinelle.observatory.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    # Before admin.site.urls, so that reverse("admin:login") lands here: one sign-in path.
    path("admin/login/", core_views.admin_login, name="admin-login"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("sentinelle.core.api.urls")),
    path("api/v1/", include("sentinelle.incidents.api.urls")),
    path("api/v1/", include("sentinelle.exchange.api.urls")),
    path("api/v1/", include("sentinelle.analysis.api.urls")),
    path("api/v1/", include("sentinelle.gateway.api.urls")),
    path("api/v1/", include("sentinelle.observatory.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its start-up script as a file: the CSP allows no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(
        url_name="api-schema", template_name="api/swagger_ui.html"), name="api-docs"),
]
