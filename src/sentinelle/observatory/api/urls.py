from django.urls import path
from rest_framework.routers import SimpleRouter

from sentinelle.observatory.api import campaigns, routing, views

router = SimpleRouter()
router.register("observatory/submissions", views.SubmissionViewSet,
                basename="api-observatory-submission")
router.register("observatory/campaigns", campaigns.CampaignViewSet,
                basename="api-observatory-campaign")
router.register("observatory/routing/alerts", routing.LiveAlertViewSet,
                basename="api-observatory-routing-alert")

urlpatterns = [
    *router.urls,
    path("observatory/access-index/", views.AccessIndexView.as_view(),
         name="api-observatory-access-index"),
    path("observatory/routing/events/", routing.RoutingEventView.as_view(),
         name="api-observatory-routing-events"),
    path("observatory/routing/watch/", routing.RoutingWatchView.as_view(),
         name="api-observatory-routing-watch"),
]
