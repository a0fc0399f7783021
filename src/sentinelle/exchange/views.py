from __future__ import annotations

import tempfile

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language

from sentinelle.core import jobs
from sentinelle.exchange import templates_csv
from sentinelle.exchange.exporting import EXPORTERS, export
from sentinelle.exchange.forms import ExportForm, ImportForm


@login_required
def exchange_home(request: HttpRequest) -> HttpResponse:
    """Import (focal points) and export (everyone signed in) in the CSIRT formats."""
    import_form = ImportForm()
    if request.method == "POST" and request.user.is_focal_point:
        import_form = ImportForm(request.POST, request.FILES)
        if import_form.is_valid():
            params = {k: v for k, v in import_form.cleaned_data.items() if k != "file"}
            job = jobs.start("import", request.user, params,
                             upload=import_form.cleaned_data["file"])
            return redirect("job-detail", pk=job.pk)
    export_form = ExportForm(request.GET if "format" in request.GET else None)
    if export_form.is_bound and export_form.is_valid():
        data = export_form.cleaned_data
        fmt = data["format"]
        spool = tempfile.TemporaryFile()  # noqa: SIM115  (closed by FileResponse)
        export(fmt, request.user, spool, since=data["since"],
               categories=[c.code for c in data["category"]])
        spool.seek(0)
        _module, _function, media, extension = EXPORTERS[fmt]
        return FileResponse(spool, as_attachment=True, content_type=media,
                            filename=f"sentinelle-export.{extension}")
    return render(request, "exchange/home.html", {
        "import_form": import_form, "export_form": export_form or ExportForm()})


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
