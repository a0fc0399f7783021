"""The observatory pages: submit a bundle (focal points), the submissions one may see, and the
access-denial index. Every read goes through ``for_user``; outsiders get 404."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from sentinelle.analysis import charts
from sentinelle.analysis.disclosure import is_full_view
from sentinelle.core import jobs, tabular
from sentinelle.core.roles import FOCAL_POINT, SECRETARIAT, role_required
from sentinelle.incidents import workflow
from sentinelle.observatory import bundles
from sentinelle.observatory.access_index import (
    DIMENSIONS,
    IndexFilter,
    compute_index,
    index_table,
    measured_states,
)
from sentinelle.observatory.forms import IndexFilterForm, SubmitForm
from sentinelle.observatory.models import BundleSubmission, CampaignRound
from sentinelle.observatory.tasks import CORROBORATE, KIND

MAX_ROWS_SHOWN = 500


@role_required(FOCAL_POINT, methods=("POST",))
def home(request: HttpRequest) -> HttpResponse:
    """Focal points upload bundles and see their State's submissions; the Secretariat sees
    every submission it may see, by State and kind."""
    user = request.user
    form = SubmitForm()
    if request.method == "POST":
        form = SubmitForm(request.POST, request.FILES)
        if form.is_valid():
            # The language travels with the job: a worker process has none of its own.
            job = jobs.start(KIND, user, {"expect": form.cleaned_data["expect"],
                                          "language": get_language()},
                             upload=form.cleaned_data["file"])
            return redirect("job-detail", pk=job.pk)
    visible = BundleSubmission.objects.for_user(user).select_related(
        "incident__state", "state", "submitted_by")
    if user.is_focal_point:
        visible = visible.filter(state_id=user.state_id)
    overview = None
    if is_full_view(user):
        overview = visible.order_by().values("state__alpha2", "kind").annotate(
            n=Count("pk")).order_by("state__alpha2", "kind")
    return render(request, "observatory/home.html", {
        "form": form, "submissions": visible[:MAX_ROWS_SHOWN], "overview": overview,
        "can_submit": user.is_focal_point})


def _submission_for_user(user, pk: int) -> BundleSubmission:
    return get_object_or_404(BundleSubmission.objects.for_user(user).select_related(
        "incident__state", "state", "submitted_by", "evidence"), pk=pk)


def _rows(submission: BundleSubmission):
    return bundles.get(submission.kind).MODEL.objects.filter(
        submission=submission).order_by("id")


@login_required
def submission_detail(request: HttpRequest, pk: int) -> HttpResponse:
    submission = _submission_for_user(request.user, pk)
    rows = _rows(submission)
    access = submission.kind == BundleSubmission.Kind.ACCESS
    # Its campaign round, linked for those who may see the campaign.
    campaign_round = CampaignRound.objects.for_user(request.user).filter(
        submission=submission).select_related("campaign").first()
    return render(request, "observatory/submission.html", {
        "submission": submission, "rows": rows[:MAX_ROWS_SHOWN], "total": rows.count(),
        "access": access, "campaign_round": campaign_round,
        "can_corroborate": access and workflow.party(request.user, submission.incident)})


@role_required(FOCAL_POINT, SECRETARIAT)
def submission_corroborate(request: HttpRequest, pk: int) -> HttpResponse:
    """Start the corroboration job (OONI and other vantage points) for an access bundle's
    report: its State's focal points and the Secretariat; another State's focal point gets
    404 (the report is not its own), any other role 403."""
    submission = _submission_for_user(request.user, pk)
    if (request.method != "POST" or submission.kind != BundleSubmission.Kind.ACCESS
            or workflow.party(request.user, submission.incident) is None):
        raise Http404
    job = jobs.start(CORROBORATE, request.user, {"incident": submission.incident_id,
                                                 "language": get_language()})
    return redirect("job-detail", pk=job.pk)


@login_required
def submission_csv(request: HttpRequest, pk: int) -> HttpResponse:
    submission = _submission_for_user(request.user, pk)
    header, rows = bundles.get(submission.kind).csv_table(_rows(submission).iterator())
    return tabular.csv_response(f"sentinelle-observations-{submission.pk}", header, rows)


def _index_filter(request: HttpRequest) -> tuple[IndexFilterForm, IndexFilter]:
    form = IndexFilterForm(request.GET or {"year": timezone.now().year},
                           states=measured_states(request.user))
    if not form.is_valid():
        return form, IndexFilter(year=timezone.now().year)
    data = form.cleaned_data
    return form, IndexFilter(year=data.get("year"),
                             states=(data["state"].upper(),) if data.get("state") else (),
                             services=(data["service"].strip(),) if data.get("service") else ())


def _grouping(request: HttpRequest) -> tuple[str, ...]:
    wanted = [g for g in request.GET.get("by", "").split(",") if g in DIMENSIONS]
    return tuple(wanted) or DIMENSIONS


@login_required
def access_index(request: HttpRequest) -> HttpResponse:
    """The access-denial index per State and service, for the year and by month."""
    form, flt = _index_filter(request)
    tables = []
    for title, group_by in ((_("By Member State and service"), ("state", "service")),
                            (_("By Member State, service and month"), DIMENSIONS)):
        index = compute_index(flt, request.user, group_by=group_by)
        header, rows = index_table(index, percent=True)
        tables.append({"title": title, "header": header, "rows": rows,
                       "by": ",".join(group_by), "suppressed": index.suppressed})
    return render(request, "observatory/index.html", {
        "form": form, "tables": tables, "query": request.GET.urlencode(),
        "full_view": is_full_view(request.user), "threshold": index.threshold,
        "monthly_chart": _monthly_chart(request.user, flt)})


def _monthly_chart(user, flt: IndexFilter):
    """The index month by month over the rows the filter selects, for the Secretariat, or for
    a focal point who chose its own State. Pooled over several States it is not drawn for
    others: pooled month minus one's own State's month would give the rest's figures, a few
    measurements at a time (the Council report publishes the pooled series under its rule)."""
    own = user.state.alpha2 if user.is_focal_point and user.state_id else None
    if not (is_full_view(user) or (own and {s.upper() for s in flt.states} == {own})):
        return None
    by_month = {r["month"]: r for r in compute_index(flt, user, group_by=("month",)).rows}
    months = [f"{flt.year}-{m:02d}" for m in range(1, 13)] if flt.year else sorted(by_month)
    rows = [{"key": m, "index_pct": None if by_month.get(m, {}).get("index") is None
             else round(by_month[m]["index"] * 100, 1)} for m in months]
    if all(r["index_pct"] is None for r in rows):
        return None
    return charts.column_chart(rows, _("Access-denial index by month (%)"), key="index_pct")


@login_required
def access_index_csv(request: HttpRequest) -> HttpResponse:
    _form, flt = _index_filter(request)
    group_by = _grouping(request)
    header, rows = index_table(compute_index(flt, request.user, group_by=group_by))
    return tabular.csv_response(f"sentinelle-access-index-{flt.year or 'all'}", header, rows)
