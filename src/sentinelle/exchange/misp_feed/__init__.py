"""A MISP feed (source format "MISP Feed") of what TAXII shows the same token; docs/exchange.md."""
