"""The submission receipt, as a PDF, for the State and the Secretariat only."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse

from sentinelle.incidents import receipts
from sentinelle.incidents.permissions import get_incident_for_party


def receipt_pdf(request: HttpRequest, pk: int, receipt_pk: int) -> HttpResponse:
    # Outsiders, signed in or not, get 404 (get_incident_for_party), as for the report itself.
    incident = get_incident_for_party(request.user, pk)
    receipt = next((r for r in receipts.for_user(request.user, incident) if r.pk == receipt_pk),
                   None)
    if receipt is None:
        raise Http404
    response = HttpResponse(receipts.pdf(receipt), content_type="application/pdf")
    name = f"receipt-{incident.reference}-v{receipt.version.number}.pdf"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["X-Content-SHA256"] = receipt.content_sha256
    return response
