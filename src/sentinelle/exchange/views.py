from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language

from sentinelle.core import jobs
from sentinelle.core.middleware import second_factor_pending
from sentinelle.core.roles import FOCAL_POINT, role_required
from sentinelle.exchange import templates_csv, uploads
from sentinelle.exchange.exporting import EXPORTERS, export_response
from sentinelle.exchange.forms import ExportForm, ImportForm


@role_required(FOCAL_POINT, methods=("POST",))
def exchange_home(request: HttpRequest) -> HttpResponse:
    """Import (focal points) and export (everyone signed in) in the CSIRT formats."""
    import_form = ImportForm()
    if request.method == "POST":
        import_form = ImportForm(request.POST, request.FILES)
        if import_form.is_valid():
            params = {k: v for k, v in import_form.cleaned_data.items() if k != "file"}
            job = jobs.start("import", request.user, params,
                             upload=import_form.cleaned_data["file"])
            return redirect("job-detail", pk=job.pk)
        if import_form.has_error("file", code="too_large"):
            return _home(request, import_form, status=413)
    export_form = ExportForm(request.GET if "format" in request.GET else None)
    if export_form.is_bound and export_form.is_valid():
        data = export_form.cleaned_data
        fmt = data["format"]
        return export_response(fmt, request.user, since=data["since"],
                               categories=[c.code for c in data["category"]])
    return _home(request, import_form, export_form)


def _home(request: HttpRequest, import_form: ImportForm, export_form: ExportForm | None = None,
          status: int = 200) -> HttpResponse:
    return render(request, "exchange/home.html", {
        "import_form": import_form, "export_form": export_form or ExportForm()}, status=status)


def _refuse_import(request: HttpRequest, message: str) -> HttpResponse:
    """The page again, its file field carrying the size error: 413, nothing read or stored.
    This runs before the sign-in checks, so whoever may not see the page gets the bare message."""
    if not request.user.is_authenticated or second_factor_pending(request):
        return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
    form = ImportForm(data={"format": "auto"})
    form.is_valid()
    form.errors["file"] = form.error_class([message])
    return _home(request, form, status=413)


exchange_home.upload_cap = uploads.UploadCap(uploads.import_limit, _refuse_import)


def import_template(request: HttpRequest, extension: str) -> HttpResponse:
    """The CSV/XLSX import template, headers in the requested (or active) language."""
    language = request.GET.get("lang") or (get_language() or "en").split("-")[0]
    if language not in templates_csv.LANGUAGES:
        raise Http404
    if extension not in ("csv", "xlsx"):
        raise Http404
    if extension == "csv":
        return HttpResponse(templates_csv.template_csv(language),
                            content_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition":
                                     f'attachment; filename="sentinelle-import-{language}.csv"'})
    return HttpResponse(templates_csv.template_xlsx(language),
                        content_type=EXPORTERS["xlsx"][2], headers={"Content-Disposition":
                                 f'attachment; filename="sentinelle-import-{language}.xlsx"'})
