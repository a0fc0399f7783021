from sentinelle.analysis.models.enrichment import IpEnrichment
from sentinelle.analysis.models.handling import HandlingExpectation
from sentinelle.analysis.models.kept import KeptStatistics
from sentinelle.analysis.models.linking import IncidentCluster, LinkedReport

__all__ = ["HandlingExpectation", "IncidentCluster", "IpEnrichment", "KeptStatistics",
           "LinkedReport"]
