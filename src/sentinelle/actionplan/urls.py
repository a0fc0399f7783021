from django.urls import path

from sentinelle.actionplan import views

urlpatterns = [
    path("", views.plan, name="actionplan"),
    path("new/", views.action_edit, name="actionplan-action-new"),
    path("updates/<int:pk>/evidence/", views.update_evidence, name="actionplan-update-evidence"),
    path("indicators/<str:indicator>/updates/new/", views.update_create,
         name="actionplan-update-new"),
    path("<slug:code>/", views.action_detail, name="actionplan-action"),
    path("<slug:code>/edit/", views.action_edit, name="actionplan-action-edit"),
    path("<slug:code>/indicators/new/", views.indicator_edit, name="actionplan-indicator-new"),
    path("<slug:code>/indicators/<str:indicator>/edit/", views.indicator_edit,
         name="actionplan-indicator-edit"),
]
