from sentinelle.gateway.models.base import LANGUAGES, EntryStatus, GatewayEntry
from sentinelle.gateway.models.content import (
    CirtTeam,
    GoodPractice,
    Initiative,
    InitiativeStatus,
    Resource,
    ResourceKind,
    Scope,
)
from sentinelle.gateway.models.history import Revision, SearchEntry

__all__ = [
    "LANGUAGES",
    "CirtTeam",
    "EntryStatus",
    "GatewayEntry",
    "GoodPractice",
    "Initiative",
    "InitiativeStatus",
    "Resource",
    "ResourceKind",
    "Revision",
    "Scope",
    "SearchEntry",
]
