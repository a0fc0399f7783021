"""The Secretariat's linked incidents: suggestions and existing links (``/analysis/links/``),
and the link/unlink forms of a report's page. Outsiders get 404, as on every Secretariat page."""

from __future__ import annotations

import re

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from sentinelle.analysis import linking
from sentinelle.analysis.models import IncidentCluster
from sentinelle.core.forms import posted_text
from sentinelle.core.redirects import safe_next
from sentinelle.core.roles import SECRETARIAT, role_required
from sentinelle.incidents.models import Incident

MAX_REPORTS_FIELD = 50


# A report's reference as pages show it (Incident.reference): State, year, number.
REFERENCE = re.compile(r"^[A-Za-z]{2}-\d{4}-(\d{1,19})$")


def _report_ids(values: list[str]) -> dict[int, str | None]:
    """Reports from the form: several fields, or one with numbers or references
    (MX-2026-00236) separated by commas. Each number -> the reference given for it, if any."""
    out: dict[int, str | None] = {}
    given = 0
    for value in values[:MAX_REPORTS_FIELD]:
        for part in value.replace(" ", ",").split(","):
            part = part.strip()
            if not part:
                continue
            given += 1
            reference = REFERENCE.match(part)
            try:
                number = int(reference.group(1) if reference else part)
            except ValueError:
                number = -1
            # A database key: positive and within 64 bits, or the query itself would fail.
            if not 0 < number < 2 ** 63:
                raise ValidationError({"reports": _(
                    "Give report numbers or references, such as 42 or MX-2026-00042.")})
            out[number] = part.upper() if reference else None
            if given > linking.MAX_MEMBERS:
                raise ValidationError({"reports": _(
                    "A linked incident has at most %(n)d reports.") % {
                        "n": linking.MAX_MEMBERS}})
    return out


@role_required(SECRETARIAT)
def links(request: HttpRequest) -> HttpResponse:
    """Suggested links (different States, a specific shared indicator, overlapping time) and
    the linked incidents, each member the analyst may see by reference."""
    visible = Incident.objects.for_user(request.user)
    existing = []
    for cluster in linking.visible_clusters(request.user).prefetch_related(
            "members").select_related("created_by"):
        ids = [m.incident_id for m in cluster.members.all()]
        members = list(visible.filter(pk__in=ids).select_related("state"))
        existing.append({"cluster": cluster, "members": members,
                         "others": len(ids) - len(members)})
    return render(request, "analysis/links.html", {
        "suggestions": linking.suggestion_groups(request.user), "existing": existing})


@role_required(SECRETARIAT)
@require_POST
def link(request: HttpRequest) -> HttpResponse:
    """Link reports into a new linked incident, or add them to one (``cluster``)."""
    visible = Incident.objects.for_user(request.user)
    try:
        wanted = _report_ids(request.POST.getlist("reports"))
        reports = list(visible.filter(pk__in=wanted).select_related("state"))
        # A number the analyst may not see, or a reference that is not that report's: as if
        # it did not exist.
        if len(reports) != len(wanted) or any(
                wanted[r.pk] not in (None, r.reference) for r in reports):
            raise Http404
        cluster = None
        if request.POST.get("cluster"):
            try:
                cluster = linking.visible_clusters(request.user).get(
                    pk=int(request.POST["cluster"]))
            except (ValueError, IncidentCluster.DoesNotExist):
                raise Http404 from None
        cluster = linking.link(request.user, reports, cluster=cluster,
                               label=posted_text(request, "label"),
                               note=posted_text(request, "note"))
    except PermissionDenied:
        raise Http404 from None
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("Linked as one incident: %(label)s.") % {
            "label": cluster.label})
    return redirect(safe_next(request, reverse("analysis-links")))


@role_required(SECRETARIAT)
@require_POST
def unlink(request: HttpRequest) -> HttpResponse:
    """Take a report out of its linked incident (which dissolves below two reports)."""
    try:
        report = Incident.objects.for_user(request.user).get(pk=int(request.POST.get("report")))
    except (TypeError, ValueError, Incident.DoesNotExist):
        raise Http404 from None
    try:
        linking.unlink(request.user, report, note=posted_text(request, "note"))
    except PermissionDenied:
        raise Http404 from None
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("%(ref)s is no longer linked.") % {"ref": report.reference})
    return redirect(safe_next(request, reverse("analysis-links")))
