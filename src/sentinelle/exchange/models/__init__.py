from sentinelle.exchange.models.indicators import SharedIndicator
from sentinelle.exchange.models.remotes import FederationCursor

__all__ = ["FederationCursor", "SharedIndicator"]
