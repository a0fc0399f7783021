from django.urls import path
from rest_framework.routers import SimpleRouter

from sentinelle.observatory.api import views

router = SimpleRouter()
router.register("observatory/submissions", views.SubmissionViewSet,
                basename="api-observatory-submission")

urlpatterns = [
    *router.urls,
    path("observatory/access-index/", views.AccessIndexView.as_view(),
         name="api-observatory-access-index"),
]
