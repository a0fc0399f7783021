from rest_framework.routers import SimpleRouter

from sentinelle.core.api.jobs import JobViewSet

# Jobs belong to core (core/jobs.py runs every app's tasks): imports, reports, bundles.
router = SimpleRouter()
router.register("jobs", JobViewSet, basename="api-job")

urlpatterns = router.urls
