from django.urls import path

from sentinelle.incidents import views

urlpatterns = [
    path("incidents/", views.incident_list, name="incident-list"),
    path("incidents/new/", views.incident_create, name="incident-create"),
    path("incidents/validate/", views.incident_validate, name="incident-validate"),
    path("incidents/<int:pk>/", views.incident_detail, name="incident-detail"),
    path("incidents/<int:pk>/edit/", views.incident_edit, name="incident-edit"),
    path("incidents/<int:pk>/diff/", views.version_diff, name="incident-diff"),
    path("incidents/<int:pk>/status/", views.transition, name="incident-transition"),
    path("incidents/<int:pk>/messages/", views.message_post, name="incident-message"),
    path("incidents/<int:pk>/evidence/", views.evidence_upload, name="incident-evidence"),
    path("incidents/<int:pk>/receipts/<int:receipt_pk>.pdf", views.receipt_pdf,
         name="incident-receipt"),
    path("evidence/<int:pk>/download/", views.evidence_download, name="evidence-download"),
    path("returns/", views.summary_list, name="summary-list"),
    path("returns/new/", views.summary_create, name="summary-create"),
    path("returns/upload/", views.summary_upload, name="summary-upload"),
    path("returns/template.csv", views.summary_template, name="summary-template"),
    path("returns/<int:pk>/", views.summary_detail, name="summary-detail"),
]
