from sentinelle.incidents.views.actions import (
    evidence_download,
    evidence_upload,
    message_post,
    transition,
)
from sentinelle.incidents.views.receipts import receipt_pdf
from sentinelle.incidents.views.reports import (
    incident_create,
    incident_detail,
    incident_edit,
    incident_list,
    incident_validate,
    version_diff,
)
from sentinelle.incidents.views.summaries import (
    summary_create,
    summary_detail,
    summary_list,
    summary_template,
    summary_upload,
)

__all__ = [
    "evidence_download",
    "evidence_upload",
    "incident_create",
    "incident_detail",
    "incident_edit",
    "incident_list",
    "incident_validate",
    "message_post",
    "receipt_pdf",
    "summary_create",
    "summary_detail",
    "summary_list",
    "summary_template",
    "summary_upload",
    "transition",
    "version_diff",
]
