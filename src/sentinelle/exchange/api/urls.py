from rest_framework.routers import SimpleRouter

from sentinelle.exchange.api import views

router = SimpleRouter()
router.register("imports", views.ImportViewSet, basename="api-import")
router.register("exports", views.ExportViewSet, basename="api-export")

urlpatterns = router.urls
