"""Workflow actions on one report: status changes, messages, evidence."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from sentinelle.core.middleware import second_factor_pending
from sentinelle.core.roles import FOCAL_POINT, SECRETARIAT, role_required
from sentinelle.exchange import uploads
from sentinelle.incidents import receipts, services
from sentinelle.incidents.downloads import evidence_response
from sentinelle.incidents.forms import EvidenceForm, MessageForm, TransitionForm
from sentinelle.incidents.models import Evidence, Incident, Status
from sentinelle.incidents.permissions import get_incident_for_party

# Session key of a message the thread refused, shown again in the form on the report's page.
MESSAGE_DRAFT = "message-draft-%s"


def _report_errors(request: HttpRequest, exc: ValidationError) -> None:
    for message in exc.messages:
        messages.error(request, message)


@role_required(FOCAL_POINT, SECRETARIAT)
@require_POST
def transition(request: HttpRequest, pk: int) -> HttpResponse:
    incident = get_incident_for_party(request.user, pk)
    form = TransitionForm(request.POST)
    if form.is_valid():
        duplicate_of = None
        if form.cleaned_data.get("duplicate_of"):
            duplicate_of = get_object_or_404(Incident.objects.for_user(request.user),
                                             pk=form.cleaned_data["duplicate_of"])
        try:
            services.change_status(incident, request.user, form.cleaned_data["to_status"],
                                   note=form.cleaned_data["note"], duplicate_of=duplicate_of)
        except ValidationError as exc:
            _report_errors(request, exc)
        else:
            if form.cleaned_data["to_status"] == Status.SUBMITTED:
                messages.success(request, receipts.confirmation(incident))
    else:
        _report_errors(request, ValidationError(form.errors.as_text()))
    return redirect("incident-detail", pk=pk)


@role_required(FOCAL_POINT, SECRETARIAT)
@require_POST
def message_post(request: HttpRequest, pk: int) -> HttpResponse:
    incident = get_incident_for_party(request.user, pk)
    form = MessageForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.post_message(incident, request.user, form.cleaned_data["body"],
                                  files=form.cleaned_data["files"])
        except ValidationError as exc:
            _report_errors(request, exc)
        else:
            return redirect(f"{incident.get_absolute_url()}#thread")
    else:
        for field, errors in form.errors.items():
            label = form.fields[field].label if field in form.fields else ""
            for error in errors:
                messages.error(request, f"{label}: {error}" if label else error)
    # Refused: the page shows the text again (the files must be chosen again).
    request.session[MESSAGE_DRAFT % incident.pk] = request.POST.get("body", "")[:20_000]
    return redirect(f"{incident.get_absolute_url()}#thread")


def _refuse_upload(request: HttpRequest, message: str) -> HttpResponse:
    """Files over what one request may carry, refused unread (413): the report's page with the
    error, as its own view shows it to whoever may see it. Runs before the sign-in checks."""
    from sentinelle.incidents.views.reports import incident_detail

    if not request.user.is_authenticated or second_factor_pending(request):
        return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
    messages.error(request, message)
    response = incident_detail(request, request.resolver_match.kwargs["pk"])
    response.status_code = 413
    return response


# Without a cap Django would stream a body of any size to disk before the view could refuse it.
message_post.upload_cap = uploads.UploadCap(services.message_request_limit, _refuse_upload)


@role_required(FOCAL_POINT, SECRETARIAT)
@require_POST
def evidence_upload(request: HttpRequest, pk: int) -> HttpResponse:
    incident = get_incident_for_party(request.user, pk)
    form = EvidenceForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            item = services.attach_evidence(incident, request.user, form.cleaned_data["file"],
                                            form.cleaned_data["description"])
        except ValidationError as exc:
            _report_errors(request, exc)
            return redirect(f"{incident.get_absolute_url()}#evidence")
        messages.success(request, _("%(name)s attached — SHA-256 %(hash)s") % {
            "name": item.filename, "hash": item.sha256})
    else:
        _report_errors(request, ValidationError(form.errors.as_text()))
    return redirect(f"{incident.get_absolute_url()}#evidence")


evidence_upload.upload_cap = uploads.UploadCap(lambda: settings.EVIDENCE_MAX_BYTES,
                                               _refuse_upload)


def evidence_download(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_object_or_404(Evidence.objects.for_user(request.user), pk=pk)
    return evidence_response(item)
