from __future__ import annotations

import difflib
import json
import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from sentinelle.core import tabular
from sentinelle.core.forms import add_validation_error
from sentinelle.core.middleware import second_factor_pending
from sentinelle.core.roles import FOCAL_POINT, role_required
from sentinelle.exchange import uploads
from sentinelle.incidents import exports, receipts, services, staging, workflow
from sentinelle.incidents.filters import IncidentFilter
from sentinelle.incidents.forms import (
    NARRATIVE_LANGUAGES,
    EvidenceForm,
    IncidentForm,
    MessageForm,
    TransitionForm,
)
from sentinelle.incidents.models import Channel, Incident, Indicator, Status
from sentinelle.incidents.permissions import (
    evidence_for_user,
    get_incident_for_party,
    get_incident_for_user,
    message_files_for_user,
    thread_for_user,
    transitions_for_user,
    versions_for_user,
)
from sentinelle.incidents.thread import requests_first
from sentinelle.incidents.views.actions import MESSAGE_DRAFT


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
            return tabular.csv_response("incidents", header, rows)
        return tabular.xlsx_response("incidents", header, rows)
    page = Paginator(filterset.qs, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    template = "incidents/_list_rows.html" if request.htmx else "incidents/list.html"
    return render(request, template, {"filter": filterset, "page": page,
                                      "query": query.urlencode()})


def _thread_with_files(user, incident: Incident) -> list:
    """The thread, each message with the files sent with it that the user may download."""
    thread = list(thread_for_user(user, incident))
    files = message_files_for_user(user, incident)
    for message in thread:
        message.visible_files = files.get(message.pk, [])
    return thread


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
        "thread": requests_first(_thread_with_files(request.user, incident))
        if is_party else [],
        "receipts": receipts.for_user(request.user, incident),
        "targets": [(s, Status(s).label) for s in workflow.allowed_targets(request.user,
                                                                            incident)],
        "can_amend": workflow.party(request.user, incident) == workflow.STATE
        and incident.status in workflow.AMENDABLE,
        "transition_form": TransitionForm(),
        "message_form": MessageForm(initial={"body": request.session.pop(
            MESSAGE_DRAFT % incident.pk, "")} if is_party else None),
        "evidence_form": EvidenceForm(),
    }
    return render(request, "incidents/detail.html", context)


def _save(request, form: IncidentForm, incident: Incident | None,
          draft: uuid.UUID | None = None) -> HttpResponse | None:
    """Create (with the files kept with `draft`) or amend the report; None, with the errors on
    the form, when it cannot be saved."""
    submit = "submit" in request.POST
    try:
        with transaction.atomic():   # the report and every kept file, or nothing (still kept)
            if incident is None:
                created = services.create_report(request.user, form.content(),
                                                 channel=Channel.WEB)
                if draft is not None:
                    staging.attach_all(created, request.user, draft)
                incident = created
            else:
                services.amend_report(incident, request.user, form.content(),
                                      note=form.cleaned_data.get("note", ""))
    except ValidationError as exc:
        add_validation_error(form, exc)
        return None
    # Submitted after the files are attached, so that the receipt names them too.
    if submit and incident.status == Status.DRAFT:
        try:
            services.change_status(incident, request.user, Status.SUBMITTED)
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
            return redirect("incident-detail", pk=incident.pk)
        messages.success(request, receipts.confirmation(incident))
    elif submit:
        messages.success(request, _("The report was submitted."))
    else:
        messages.success(request, _("The report was saved."))
    return redirect("incident-detail", pk=incident.pk)


def _preview(form: IncidentForm, state) -> dict:
    """The report the form would save, unsaved, for the page to show as the report page does:
    labels in the reader's language, never the stored codes."""
    content = form.content()
    report = Incident(state=state)
    for field in services.CONTENT_FIELDS:
        if field not in ("indicators", "named_analysts"):
            setattr(report, field, content.get(field))
    report.consent_to_name = bool(content.get("consent_to_name"))
    report.duration_hours, report.user_hours = services.derived_figures(content)
    return {
        "report": report,
        "indicators": [Indicator(type=kind, value=value)
                       for kind, value in content.get("indicators") or []],
        "named_analysts": [user.get_username() for user in content.get("named_analysts") or []],
        "narrative_language": dict(NARRATIVE_LANGUAGES).get(report.narrative_language, ""),
    }


def _refuse_form(request: HttpRequest, message: str) -> HttpResponse:
    """A report form whose files exceed what one request may carry, refused unread (413): the
    form again, empty, the error under its file field. Runs before the sign-in checks."""
    user = request.user
    if not (user.is_authenticated and user.is_focal_point) or second_factor_pending(request):
        return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
    return render(request, "incidents/form.html", {
        "form": IncidentForm(), "draft": staging.draft_key(None),
        "attachment_errors": [message]}, status=413)


@role_required(FOCAL_POINT)
def incident_create(request: HttpRequest) -> HttpResponse:
    form = IncidentForm(request.POST or None)
    draft = staging.draft_key(request.POST.get("draft"))
    preview, problems = None, []
    if request.method == "POST":
        # Files chosen now are kept before anything else, so that neither Preview nor an error
        # loses them; a file that cannot be kept keeps back the whole form.
        chosen = request.FILES.getlist("attachments")
        problems = staging.check(request.user, draft, chosen)
        if not problems:
            staging.keep(request.user, draft, chosen)
        if "unstage" in request.POST:
            staging.remove(request.user, draft, request.POST["unstage"])
        elif form.is_valid() and not problems:
            if "preview" in request.POST:
                preview = _preview(form, request.user.state)
            else:
                response = _save(request, form, None, draft)
                if response is not None:
                    return response
    return render(request, "incidents/form.html", {
        "form": form, "preview": preview, "draft": draft, "attachment_errors": problems,
        "kept": staging.kept(request.user, draft)})


incident_create.upload_cap = uploads.UploadCap(staging.request_limit, _refuse_form)


@role_required(FOCAL_POINT)
def incident_edit(request: HttpRequest, pk: int) -> HttpResponse:
    # The reporting State's form (the Secretariat amends the classification through the API):
    # another role 403, another State's focal point 404.
    incident = get_incident_for_party(request.user, pk)
    if incident.status not in workflow.AMENDABLE:
        messages.error(request, _("A closed, duplicate or withdrawn report cannot be amended."))
        return redirect("incident-detail", pk=pk)
    content = services.current_content(incident)
    form = IncidentForm(request.POST or None, initial=IncidentForm.initial_from(content),
                        amending=True)
    preview = None
    if request.method == "POST" and form.is_valid():
        if "preview" in request.POST:
            preview = _preview(form, incident.state)
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

