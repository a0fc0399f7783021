from django.contrib.auth import views as auth_views
from django.urls import path

from sentinelle.core import health, metrics, views

urlpatterns = [
    path("account/login/", views.SignInView.as_view(), name="login"),
    path("account/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/two-factor/", views.two_factor, name="two-factor"),
    path("account/tokens/", views.tokens, name="tokens"),
    path("account/tokens/<int:pk>/revoke/", views.token_revoke, name="token-revoke"),
    path("jobs/<int:pk>/", views.job_detail, name="job-detail"),
    path("jobs/<int:pk>/output/", views.job_output, name="job-output"),
    path("healthz", health.healthz, name="healthz"),
    path("metrics", metrics.metrics, name="metrics"),
]
