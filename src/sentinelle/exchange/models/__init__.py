from sentinelle.exchange.models.indicators import SharedIndicator
from sentinelle.exchange.models.remotes import FederationCursor, FederationRemote, normalise_remote

__all__ = ["FederationCursor", "FederationRemote", "SharedIndicator", "normalise_remote"]
