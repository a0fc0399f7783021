from sentinelle.analysis.models.enrichment import IpEnrichment

__all__ = ["IpEnrichment"]
