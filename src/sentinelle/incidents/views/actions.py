"""Workflow actions on one report: status changes, messages, evidence."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from sentinelle.incidents import services
from sentinelle.incidents.access import get_incident_for_party
from sentinelle.incidents.downloads import evidence_response
from sentinelle.incidents.forms import EvidenceForm, MessageForm, TransitionForm
from sentinelle.incidents.models import Evidence, Incident


def _report_errors(request: HttpRequest, exc: ValidationError) -> None:
    for message in exc.messages:
        messages.error(request, message)


@login_required
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
        _report_errors(request, ValidationError(form.errors.as_text()))
    return redirect("incident-detail", pk=pk)


@login_required
@require_POST
def message_post(request: HttpRequest, pk: int) -> HttpResponse:
    incident = get_incident_for_party(request.user, pk)
    form = MessageForm(request.POST)
    if form.is_valid():
        try:
            services.post_message(incident, request.user, form.cleaned_data["body"])
        except ValidationError as exc:
            _report_errors(request, exc)
    else:
        _report_errors(request, ValidationError(form.errors["body"]))
    return redirect(f"{incident.get_absolute_url()}#thread")


@login_required
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


def evidence_download(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_object_or_404(Evidence.objects.for_user(request.user), pk=pk)
    return evidence_response(item)
