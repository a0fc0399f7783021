"""Dashboards, exports and the duplicates queue. Figures come from the statistics service;
what a reader may see is decided by disclosure.statistics_for (the Secretariat precise, a focal
point its own State precisely, everything else the public publication of a calendar year)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from sentinelle.analysis import charts, correlation, disclosure, handling
from sentinelle.analysis.filters import query_from_filter
from sentinelle.analysis.forms import HandlingExpectationForm
from sentinelle.analysis.statistics import Stats, StatsFilter
from sentinelle.analysis.tables import EXPORTABLE, TITLES, table
from sentinelle.core import tabular
from sentinelle.core.forms import add_validation_error, posted_text
from sentinelle.core.models import MemberState
from sentinelle.core.models.states import ADMIN_REGIONS, ITU_D_REGIONS
from sentinelle.core.redirects import safe_next
from sentinelle.core.roles import SECRETARIAT, role_required
from sentinelle.incidents import services
from sentinelle.incidents.models import Category, Incident

_CHARTED = ("by_category", "by_rsit_class", "by_itu_d_region", "by_state")


def _viewer(request: HttpRequest, public: bool):
    # The public page shows what an anonymous reader sees, whoever is signed in.
    return None if public else request.user


def _stats(request: HttpRequest, public: bool) -> tuple[StatsFilter, Stats, list[str]]:
    errors: list[str] = []
    query = request.GET
    if not query:
        query = QueryDict(f"year={disclosure.current_year()}")
    viewer = _viewer(request, public)
    try:
        stats = disclosure.statistics_for(viewer, query)
    except ValidationError as exc:
        errors = [str(m) for msgs in exc.message_dict.values() for m in msgs]
        stats = disclosure.statistics_for(viewer, QueryDict(f"year={disclosure.current_year()}"))
    return stats.filter, stats, errors


def _with_display(rows: list[dict]) -> list[dict]:
    return [{**r, "display": f"<{disclosure.small_count_threshold()}"} if r.get("suppressed")
            else r for r in rows]


def _render(request: HttpRequest, public: bool) -> HttpResponse:
    flt, stats, errors = _stats(request, public)
    sections = []
    for name in EXPORTABLE:
        header, rows = table(stats, name)
        chart = None
        if name in _CHARTED:
            chart = charts.bar_chart(_with_display(getattr(stats, name)), str(TITLES[name]))
        elif name == "by_month":
            chart = charts.column_chart(_with_display(stats.by_month), str(TITLES[name]))
        sections.append({"name": name, "title": TITLES[name], "header": header, "rows": rows,
                         "chart": chart})
    return render(request, "analysis/dashboard.html", {
        "public": public, "flt": flt, "stats": stats, "sections": sections, "errors": errors,
        "query": query_from_filter(flt), "threshold": disclosure.small_count_threshold(),
        "full_view": not public and disclosure.is_full_view(request.user),
        "own_state": None if public or not request.user.is_authenticated
        or not request.user.is_focal_point else request.user.state,
        "states": MemberState.objects.filter(is_member=True),
        "categories": Category.objects.all(), "regions": [*ITU_D_REGIONS, *ADMIN_REGIONS],
        "years": range(disclosure.current_year(), disclosure.current_year() - 10, -1),
    })


def dashboard(request: HttpRequest) -> HttpResponse:
    """The analysis dashboard: every figure for the Secretariat, suppressed cuts for others."""
    if not request.user.is_authenticated:
        return redirect("analysis-public")
    return _render(request, public=False)


def public_dashboard(request: HttpRequest) -> HttpResponse:
    """Public statistics: aggregates with small counts tied to a State suppressed."""
    return _render(request, public=True)


def _export(request: HttpRequest, name: str, fmt: str, public: bool) -> HttpResponse:
    if name not in EXPORTABLE or fmt not in ("csv", "xlsx"):
        raise Http404
    try:
        stats = disclosure.statistics_for(_viewer(request, public), request.GET)
    except ValidationError as exc:
        return HttpResponse("; ".join(f"{k}: {' '.join(v)}" for k, v in
                                      exc.message_dict.items()), status=400,
                            content_type="text/plain; charset=utf-8")
    flt = stats.filter
    header, rows = table(stats, name)
    filename = f"sentinelle-{name.replace('_', '-')}-{flt.year or 'all'}"
    writer = tabular.csv_response if fmt == "csv" else tabular.xlsx_response
    return writer(filename, header, rows)


def export(request: HttpRequest, name: str, fmt: str) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect("analysis-public-export", name=name, fmt=fmt)
    return _export(request, name, fmt, public=False)


def public_export(request: HttpRequest, name: str, fmt: str) -> HttpResponse:
    return _export(request, name, fmt, public=True)


@role_required(SECRETARIAT)
def duplicates(request: HttpRequest) -> HttpResponse:
    """The analyst's queue of duplicate suggestions and correlated clusters."""
    return render(request, "analysis/duplicates.html", {
        "suggestions": correlation.duplicate_suggestions(request.user),
        "clusters": correlation.clusters(request.user),
    })


@role_required(SECRETARIAT)
def related(request: HttpRequest, pk: int) -> HttpResponse:
    """Every report correlated with one, ranked, each with the values it shares ("all N")."""
    incident = Incident.objects.for_user(request.user).filter(pk=pk).first()
    if incident is None:
        raise Http404
    return render(request, "analysis/related.html", {
        "incident": incident, "related": correlation.related_to(request.user, incident)})


@role_required(SECRETARIAT)
@require_POST
def merge(request: HttpRequest) -> HttpResponse:
    """Mark a report as a duplicate of a primary: a status change, the original is kept."""
    visible = Incident.objects.for_user(request.user)
    try:
        duplicate = visible.get(pk=int(request.POST.get("duplicate", "")))
        primary = visible.get(pk=int(request.POST.get("primary", "")))
    except (ValueError, Incident.DoesNotExist):
        raise Http404 from None
    try:
        services.change_status(duplicate, request.user, "duplicate",
                               note=posted_text(request, "note"), duplicate_of=primary)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("%(dup)s is marked as a duplicate of %(primary)s.") % {
            "dup": duplicate.reference, "primary": primary.reference})
    return redirect(safe_next(request, reverse("analysis-duplicates")))


def _sort_headers(sort: str) -> list[dict]:
    """Column headers of the queue: a link to each sort, the current one with aria-sort."""
    headers = []
    for key, (label, _column) in handling.SORTS.items():
        current = sort.lstrip("-") == key
        descending = sort.startswith("-")
        headers.append({
            "key": key, "label": label,
            "aria_sort": ("descending" if descending else "ascending") if current else None,
            # A first click shows the oldest (longest) first; a second click reverses.
            "href": f"?sort={key}" if current and descending else f"?sort=-{key}",
        })
    return headers


@role_required(SECRETARIAT)
def queue(request: HttpRequest) -> HttpResponse:
    """The Secretariat's queue of open reports: age, time since submission and since the
    State's last answer, each sortable, and the overdue ones marked against the category's
    expected handling times."""
    sort, error = handling.parse_sort(request.GET.get("sort"))
    page = Paginator(handling.queue(request.user, sort), 50).get_page(request.GET.get("page"))
    now = timezone.now()
    expected = handling.expectations()
    rows = []
    for incident in page:
        rows.append({
            "incident": incident,
            "age": handling.duration(now - incident.started_at),
            "since_submission": handling.duration(now - incident.submitted_at)
            if incident.submitted_at else "—",
            "since_answer": handling.duration(now - incident.last_answer_at)
            if incident.last_answer_at else None,
            "due": handling.due(incident, expected.get(incident.category_id), now),
        })
    return render(request, "analysis/queue.html", {
        "page": page, "rows": rows, "sort": sort, "error": error,
        "headers": _sort_headers(sort),
    })


@role_required(SECRETARIAT)
def handling_times(request: HttpRequest) -> HttpResponse:
    """Expected handling times per category, set by the Secretariat (audited)."""
    status = 200
    if request.method == "POST":
        form = HandlingExpectationForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                handling.set_expectation(request.user, data["category"],
                                         data["acknowledge_hours"], data["analyse_hours"])
            except ValidationError as exc:
                add_validation_error(form, exc)
            else:
                messages.success(request, _("Expected handling times of %(category)s saved.")
                                 % {"category": data["category"].label})
                return redirect("analysis-handling-times")
        status = 400
    else:
        chosen = Category.objects.filter(code=request.GET.get("category", "")).first()
        initial = {}
        if chosen is not None:
            current = handling.expectations().get(chosen.pk)
            initial = {"category": chosen.code,
                       "acknowledge_hours": current.acknowledge_hours if current else "",
                       "analyse_hours": current.analyse_hours if current else ""}
        form = HandlingExpectationForm(initial=initial)
    expected = handling.expectations()
    categories = [{"category": c, "expectation": expected.get(c.pk)}
                  for c in Category.objects.all()]
    return render(request, "analysis/handling_times.html",
                  {"form": form, "categories": categories}, status=status)

