from rest_framework.routers import SimpleRouter

from sentinelle.core.api.jobs import JobViewSet
from sentinelle.exchange.api import views

router = SimpleRouter()
router.register("imports", views.ImportViewSet, basename="api-import")
router.register("exports", views.ExportViewSet, basename="api-export")
router.register("jobs", JobViewSet, basename="api-job")

urlpatterns = router.urls
