from sentinelle.analysis.models.enrichment import IpEnrichment
from sentinelle.analysis.models.handling import HandlingExpectation

__all__ = ["HandlingExpectation", "IpEnrichment"]
