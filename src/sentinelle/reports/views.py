"""The Council report pages: the Secretariat produces a report as a job; every signed-in user
lists and downloads the reports produced (their content is anonymised for the public)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from sentinelle.core import jobs
from sentinelle.core.roles import SECRETARIAT, role_required
from sentinelle.core.storage import file_response
from sentinelle.reports.forms import ReportForm
from sentinelle.reports.models import CouncilReport
from sentinelle.reports.options import ReportOptions
from sentinelle.reports.tasks import CONTENT_TYPES, KIND


@role_required(SECRETARIAT, methods=("POST",))
def report_list(request: HttpRequest) -> HttpResponse:
    can_generate = request.user.is_secretariat
    form = ReportForm(request.POST or None) if can_generate else None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            options = ReportOptions(
                year=data["year"], lang=data["lang"], fmt=data["fmt"],
                council_year=data["council_year"], session=data["session"],
                agenda_item=data["agenda_item"], document_number=data["document_number"],
                date=data["date"])
        except ValidationError as exc:
            form.add_error(None, exc.messages)
        else:
            job = jobs.start(KIND, request.user, options.as_params())
            messages.info(request, _("The report is being produced."))
            return redirect("job-detail", pk=job.pk)
    return render(request, "reports/list.html", {
        "form": form, "reports": CouncilReport.objects.select_related("created_by")[:50]})


@login_required
def report_download(request: HttpRequest, pk: int, part: str) -> HttpResponse:
    report = get_object_or_404(CouncilReport, pk=pk)
    if part == "document":
        handle, name = report.document, report.document_name
        content_type = CONTENT_TYPES.get(report.format, "application/octet-stream")
    elif part == "annex":
        handle, name, content_type = report.annex, report.annex_name, "text/csv"
    else:
        raise Http404
    response = file_response(handle, filename=name, content_type=content_type)
    response["Content-Security-Policy"] = "sandbox"
    return response
