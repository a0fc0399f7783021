from django.urls import path

from sentinelle.exchange import views

urlpatterns = [
    path("", views.exchange_home, name="exchange"),
    path("template.<str:extension>", views.import_template, name="import-template"),
]
