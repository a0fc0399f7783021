"""Project-level pages: the home page gathers what several apps own (the reports from
`incidents`, the published figures from `analysis`), so it lives above them rather than in the
core, which imports no domain app (the import contracts in pyproject.toml)."""

from __future__ import annotations

from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from sentinelle.analysis import disclosure
from sentinelle.incidents.models import Incident, Status


def dashboard(request: HttpRequest) -> HttpResponse:
    """The home page, shaped by the role: what needs doing first, then the figures."""
    user = request.user
    visible = Incident.objects.for_user(user)
    # The figures are the year's public publication, the same on every public surface
    # (analysis.disclosure); the reports themselves are not public.
    year = disclosure.current_year()
    stats = disclosure.publication(year)
    context: dict = {"year": year, "by_category": [
        {**row, "shown": disclosure.display(row["incidents"]),
         "hours_shown": disclosure.display(row["user_hours"])} for row in stats.by_category]}
    if user.is_authenticated and user.is_focal_point:
        own = visible.filter(state_id=user.state_id)
        context["awaiting_answer"] = own.filter(status=Status.INFO_REQUESTED)
        context["drafts"] = own.filter(status=Status.DRAFT)
        context["recent"] = own.exclude(status=Status.DRAFT).select_related(
            "category", "state")[:10]
    elif user.is_authenticated and user.is_secretariat:
        context["to_acknowledge"] = visible.filter(status=Status.SUBMITTED).select_related(
            "state", "category")[:20]
        context["answered"] = visible.filter(status=Status.UNDER_ANALYSIS).select_related(
            "state", "category")[:20]
        # Counted as the statistics count (Incident.objects.counted): a duplicate is not a
        # second incident here either.
        context["counts"] = dict(visible.counted().order_by().values_list("status")
                                 .annotate(n=Count("id")))
    else:
        context["recent"] = visible.select_related("category", "state")[:10]
    return render(request, "dashboard.html", context)
