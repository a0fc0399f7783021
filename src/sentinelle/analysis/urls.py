from django.urls import path

from sentinelle.analysis import link_views, views

urlpatterns = [
    path("", views.dashboard, name="analysis"),
    path("public/", views.public_dashboard, name="analysis-public"),
    path("export/<str:name>.<str:fmt>", views.export, name="analysis-export"),
    path("public/export/<str:name>.<str:fmt>", views.public_export,
         name="analysis-public-export"),
    path("duplicates/", views.duplicates, name="analysis-duplicates"),
    path("queue/", views.queue, name="analysis-queue"),
    path("handling-times/", views.handling_times, name="analysis-handling-times"),
    path("duplicates/merge/", views.merge, name="analysis-merge"),
    path("related/<int:pk>/", views.related, name="analysis-related"),
    path("links/", link_views.links, name="analysis-links"),
    path("links/link/", link_views.link, name="analysis-link"),
    path("links/unlink/", link_views.unlink, name="analysis-unlink"),
]
