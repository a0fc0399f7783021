from rest_framework.routers import DefaultRouter

from sentinelle.incidents.api import views

router = DefaultRouter()
router.register("incidents", views.IncidentViewSet, basename="api-incident")
router.register("evidence", views.EvidenceViewSet, basename="api-evidence")
router.register("summary-returns", views.SummaryReturnViewSet, basename="api-summary-return")
router.register("taxonomy", views.TaxonomyViewSet, basename="api-taxonomy")

urlpatterns = router.urls
