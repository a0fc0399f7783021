from __future__ import annotations

import difflib
import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from sentinelle.incidents import exports, services, workflow
from sentinelle.incidents.access import (
    evidence_for_user,
    get_incident_for_party,
    get_incident_for_user,
    thread_for_user,
    transitions_for_user,
    versions_for_user,
)
from sentinelle.incidents.filters import IncidentFilter
from sentinelle.incidents.forms import EvidenceForm, IncidentForm, MessageForm, TransitionForm
from sentinelle.incidents.models import Incident, Status


def incident_list(request: HttpRequest) -> HttpResponse:
    queryset = Incident.objects.for_user(request.user).select_related(
        "state", "category", "rsit_type__rsit_class", "alleged_origin_state")
    filterset = IncidentFilter(request.GET, queryset=queryset)
    export = request.GET.get("export")
    if export in ("csv", "xlsx"):
        columns = exports.incident_columns()
        header = [label for _key, label in columns]
        rows = exports.incident_rows(filterset.qs.iterator(chunk_size=500))
        if export == "csv":
            return exports.csv_response("incidents", header, rows)
        return exports.xlsx_response("incidents", header, rows)
    page = Paginator(filterset.qs, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    template = "incidents/_list_rows.html" if request.htmx else "incidents/list.html"
    return render(request, template, {"filter": filterset, "page": page,
                                      "query": query.urlencode()})


def incident_detail(request: HttpRequest, pk: int) -> HttpResponse:
    incident = get_incident_for_user(request.user, pk)
    is_party = workflow.party(request.user, incident) is not None
    versions = versions_for_user(request.user, incident)
    if not versions:  # the report is visible only through versions the user may see
        raise Http404
    for previous, version in zip([None, *versions], versions, strict=False):
        version.previous_number = previous.number if previous else None
    context = {
        "incident": incident,
        "versions": versions,
        "current": versions[-1],
        "transitions": transitions_for_user(request.user, incident),
        "evidence": evidence_for_user(request.user, incident),
        "is_party": is_party,
        "thread": thread_for_user(request.user, incident) if is_party else [],
        "targets": [(s, Status(s).label) for s in workflow.allowed_targets(request.user,
                                                                            incident)],
        "can_amend": workflow.party(request.user, incident) == workflow.STATE
        and incident.status in workflow.AMENDABLE,
        "transition_form": TransitionForm(),
        "message_form": MessageForm(),
        "evidence_form": EvidenceForm(),
    }
    return render(request, "incidents/detail.html", context)


def _save(request, form: IncidentForm, incident: Incident | None) -> HttpResponse | None:
    submit = "submit" in request.POST
    try:
        if incident is None:
            incident = services.create_report(request.user, form.content(), submit=submit)
        else:
            services.amend_report(incident, request.user, form.content(),
                                  note=form.cleaned_data.get("note", ""))
            if submit and incident.status == Status.DRAFT:
                services.change_status(incident, request.user, Status.SUBMITTED)
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            form.add_error(None, exc.messages)
        return None
    for upload in request.FILES.getlist("attachments"):
        try:
            services.attach_evidence(incident, request.user, upload)
        except ValidationError as exc:
            messages.error(request, f"{upload.name}: {' '.join(exc.messages)}")
    if submit:
        messages.success(request, _("The report was submitted."))
    else:
        messages.success(request, _("The report was saved."))
    return redirect("incident-detail", pk=incident.pk)


@login_required
def incident_create(request: HttpRequest) -> HttpResponse:
    if not request.user.is_focal_point:
        raise Http404
    form = IncidentForm(request.POST or None)
    preview = None
    if request.method == "POST" and form.is_valid():
        if "preview" in request.POST:
            preview = services.snapshot(form.content())
        else:
            response = _save(request, form, None)
            if response is not None:
                return response
    return render(request, "incidents/form.html", {"form": form, "preview": preview})


@login_required
def incident_edit(request: HttpRequest, pk: int) -> HttpResponse:
    incident = get_incident_for_party(request.user, pk)
    if workflow.party(request.user, incident) != workflow.STATE:
        raise Http404
    if incident.status not in workflow.AMENDABLE:
        messages.error(request, _("A closed, duplicate or withdrawn report cannot be amended."))
        return redirect("incident-detail", pk=pk)
    content = services.current_content(incident)
    form = IncidentForm(request.POST or None, initial=IncidentForm.initial_from(content),
                        amending=True)
    preview = None
    if request.method == "POST" and form.is_valid():
        if "preview" in request.POST:
            preview = services.snapshot(form.content())
        else:
            response = _save(request, form, incident)
            if response is not None:
                return response
    return render(request, "incidents/form.html",
                  {"form": form, "incident": incident, "preview": preview})


@login_required
@require_POST
def incident_validate(request: HttpRequest) -> HttpResponse:
    """htmx: validate the form as the user types and return the errors of one field."""
    field = request.headers.get("HX-Trigger-Name", "")
    form = IncidentForm(request.POST)
    form.is_valid()
    errors = form.errors.get(field, []) if field in form.fields else []
    return render(request, "incidents/_field_errors.html", {"errors": errors, "field": field})


def version_diff(request: HttpRequest, pk: int) -> HttpResponse:
    incident = get_incident_for_user(request.user, pk)
    versions = {v.number: v for v in versions_for_user(request.user, incident)}
    numbers = sorted(versions)
    if not numbers:
        raise Http404
    try:
        a = versions[int(request.GET.get("a", numbers[-2] if len(numbers) > 1 else numbers[0]))]
        b = versions[int(request.GET.get("b", numbers[-1]))]
    except (KeyError, ValueError):
        raise Http404 from None
    rows = []
    for key in sorted(set(a.content) | set(b.content)):
        old, new = a.content.get(key), b.content.get(key)
        if old != new:
            old_text = json.dumps(old, ensure_ascii=False, indent=1)
            new_text = json.dumps(new, ensure_ascii=False, indent=1)
            lines = list(difflib.unified_diff(old_text.splitlines(), new_text.splitlines(),
                                              lineterm="", n=2))[2:]
            rows.append({"field": key, "old": old, "new": new, "lines": lines})
    return render(request, "incidents/diff.html",
                  {"incident": incident, "a": a, "b": b, "rows": rows,
                   "numbers": numbers})

