"""The observatory's tables: what submitted bundles leave besides their report
(submissions.py) and the access-probe campaigns (campaigns.py)."""

from sentinelle.observatory.models.campaigns import (
    Campaign,
    CampaignChange,
    CampaignRound,
    CampaignVerdict,
)
from sentinelle.observatory.models.submissions import (
    CONCLUSIVE_VERDICTS,
    DENIAL_VERDICTS,
    AccessObservation,
    BundleSubmission,
    LiveRoutingAlert,
    LiveRoutingEvent,
    RoutingAlertRecord,
    RoutingWatch,
    StateScopedQuerySet,
    ThroughIncidentQuerySet,
    Verdict,
)

__all__ = [
    "CONCLUSIVE_VERDICTS",
    "DENIAL_VERDICTS",
    "AccessObservation",
    "BundleSubmission",
    "Campaign",
    "CampaignChange",
    "CampaignRound",
    "CampaignVerdict",
    "LiveRoutingAlert",
    "LiveRoutingEvent",
    "RoutingAlertRecord",
    "RoutingWatch",
    "StateScopedQuerySet",
    "ThroughIncidentQuerySet",
    "Verdict",
]
