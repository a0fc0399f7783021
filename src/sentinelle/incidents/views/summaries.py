from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from sentinelle.core.roles import FOCAL_POINT, role_required
from sentinelle.incidents import summaries
from sentinelle.incidents.forms import SummaryForm, SummaryLineFormSet, SummaryUploadForm
from sentinelle.incidents.models import SummaryReturn


def _scoped(user):
    return SummaryReturn.objects.for_user(user).select_related("state", "submitted_by")


@login_required
def summary_list(request: HttpRequest) -> HttpResponse:
    returns = _scoped(request.user).prefetch_related("lines")
    return render(request, "incidents/summary_list.html", {"returns": returns})


@login_required
def summary_detail(request: HttpRequest, pk: int) -> HttpResponse:
    summary = get_object_or_404(_scoped(request.user), pk=pk)
    return render(request, "incidents/summary_detail.html", {
        "summary": summary,
        "lines": summary.lines.select_related("category", "rsit_class")})


@role_required(FOCAL_POINT)
def summary_create(request: HttpRequest) -> HttpResponse:
    form = SummaryForm(request.POST or None)
    formset = SummaryLineFormSet(request.POST or None, prefix="lines")
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        lines = [summaries.ReturnLine(**row) for row in formset.cleaned_data if row]
        try:
            summary = summaries.submit_return(request.user, form.cleaned_data["year"], lines,
                                              form.cleaned_data["notes"])
        except ValidationError as exc:
            form.add_error(None, exc.messages)
        else:
            messages.success(request, _("The summary return was sent."))
            return redirect("summary-detail", pk=summary.pk)
    return render(request, "incidents/summary_form.html", {"form": form, "formset": formset})


@role_required(FOCAL_POINT)
def summary_upload(request: HttpRequest) -> HttpResponse:
    form = SummaryUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            if upload.size > summaries.MAX_CSV_BYTES:
                raise ValidationError(_("The file is larger than %(n)s bytes.") % {
                    "n": summaries.MAX_CSV_BYTES})
            lines = summaries.parse_csv(upload.read())
            summary = summaries.submit_return(request.user, form.cleaned_data["year"], lines,
                                              form.cleaned_data["notes"])
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error("file", message)
        else:
            messages.success(request, _("The summary return was sent."))
            return redirect("summary-detail", pk=summary.pk)
    return render(request, "incidents/summary_upload.html", {"form": form})


def summary_template(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(summaries.template_csv(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="summary-return-template.csv"'
    return response
