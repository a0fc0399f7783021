"""Filters for report lists, shared by the web list, its exports and the API.

``q`` finds reports by their title, narrative or indicators (``incidents/search.py``); the
queryset it filters is the searcher's own (``for_user``), so it finds nothing else.
"""

import django_filters
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from sentinelle.core.forms import SentLengthCharField
from sentinelle.core.models import MemberState
from sentinelle.incidents import search
from sentinelle.incidents.indicators import MAX_VALUE_LENGTH
from sentinelle.incidents.models import TLP, Category, Incident, RsitClass, Status


class _TextFilter(django_filters.CharFilter):
    field_class = SentLengthCharField


class IncidentFilter(django_filters.FilterSet):
    # Bounded as an indicator value is: a longer text cannot be one, and SQLite refuses a LIKE
    # pattern over 50,000 bytes (a 500 on the list).
    q = _TextFilter(
        method="search", label=_("Search"), max_length=MAX_VALUE_LENGTH,
        help_text=_("Words of the title or narrative, or an indicator: an IP address or range "
                    "(CIDR), a domain, URL, e-mail address, AS number or hash."),
        widget=forms.TextInput(attrs={"type": "search", "placeholder": _(
            "text, IP, range, domain, hash…")}))
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

    def _resolve_q(self) -> bool:
        """Resolve the indicator part of `q` over the searcher's reports, once; False (and a
        form error naming `q`) when the search is too broad to run."""
        if not hasattr(self, "_by_indicator"):
            self._by_indicator = None
            value = self.form.cleaned_data.get("q") if not self.form.errors else None
            if value:
                try:
                    self._by_indicator = search.incidents_matching(value, self.queryset)
                except search.TooBroad as exc:
                    self.form.add_error("q", str(exc))
        return "q" not in self.form.errors

    def is_valid(self) -> bool:
        # Resolved here too so that the API answers 400 naming `q`, not an empty list.
        return super().is_valid() and self._resolve_q()

    def filter_queryset(self, queryset):
        if not self._resolve_q():
            return queryset.none()
        return super().filter_queryset(queryset)

    def search(self, queryset, name, value):
        by_text = Q(title__icontains=value) | Q(description__icontains=value)
        by_indicator = getattr(self, "_by_indicator", None)
        if by_indicator is None:
            try:
                by_indicator = search.incidents_matching(value, queryset)
            except search.TooBroad:   # said on the form by _resolve_q, when it could run
                return queryset.none()
        return queryset.filter(by_text | by_indicator)


class ApiIncidentFilter(IncidentFilter):
    """The API's: a parameter sent empty (`?started_before=`) is refused naming it, where the
    web list's form (which sends every field, empty ones too) reads it as "any". Only `q` may be
    empty: the schema documents it as free text, and an empty search is no search."""

    def is_valid(self) -> bool:
        for name in self.base_filters:
            if name != "q" and name in self.data and not self.data.get(name, "").strip():
                self.form.add_error(name, _("Give a value, or leave the parameter out."))
        return super().is_valid()
