"""Filters for report lists, shared by the web list, its exports and the API."""

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from sentinelle.core.models import MemberState
from sentinelle.incidents.models import TLP, Category, Incident, RsitClass, Status


class IncidentFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label=_("Search"))
    state = django_filters.ModelChoiceFilter(
        field_name="state", to_field_name="alpha2", label=_("Member State"),
        # All States, not only those with reports: the list must not reveal who reported.
        queryset=MemberState.objects.all())
    category = django_filters.ModelChoiceFilter(
        to_field_name="code", queryset=Category.objects.all(), label=_("Category"))
    rsit_class = django_filters.ModelChoiceFilter(
        field_name="rsit_type__rsit_class", to_field_name="code",
        queryset=RsitClass.objects.all(), label=_("RSIT class"))
    tlp = django_filters.ChoiceFilter(choices=TLP.choices, label=_("TLP"))
    status = django_filters.ChoiceFilter(choices=Status.choices, label=_("Status"))
    started_after = django_filters.DateFilter(field_name="started_at", lookup_expr="date__gte",
                                              label=_("Started on or after"))
    started_before = django_filters.DateFilter(field_name="started_at", lookup_expr="date__lte",
                                               label=_("Started on or before"))

    class Meta:
        model = Incident
        fields = ["q", "state", "category", "rsit_class", "tlp", "status", "started_after",
                  "started_before"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(title__icontains=value) | Q(description__icontains=value))
