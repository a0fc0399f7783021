from sentinelle.incidents.models.evidence import Evidence
from sentinelle.incidents.models.receipts import SubmissionReceipt
from sentinelle.incidents.models.reports import (
    TLP,
    Channel,
    Incident,
    IncidentVersion,
    Indicator,
    Severity,
)
from sentinelle.incidents.models.staging import StagedEvidence
from sentinelle.incidents.models.summary import SummaryLine, SummaryReturn
from sentinelle.incidents.models.taxonomy import Category, RsitClass, RsitType
from sentinelle.incidents.models.workflow import Message, Status, Transition

__all__ = [
    "TLP",
    "Category",
    "Channel",
    "Evidence",
    "Incident",
    "IncidentVersion",
    "Indicator",
    "Message",
    "RsitClass",
    "RsitType",
    "Severity",
    "StagedEvidence",
    "Status",
    "SubmissionReceipt",
    "SummaryLine",
    "SummaryReturn",
    "Transition",
]
