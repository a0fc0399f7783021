"""The codes of the nine verdicts a measured URL can get, written once: the probe's rules
(``verdict.py``) produce them, the bundle carries them, and the platform stores them
(``observatory.models.Verdict`` gives each its translated label). Plain Python, so that the
measuring code can use it without Django."""

from __future__ import annotations

ACCESSIBLE = "accessible"
GEOBLOCKED = "geoblocked"
CHALLENGED = "challenged"
SERVER_DENIED = "server-denied"
DNS_TAMPERING = "dns-tampering"
TCP_BLOCKED = "tcp-blocked"
TLS_INTERFERENCE = "tls-interference"
HTTP_DIFF = "http-diff"
INCONCLUSIVE = "inconclusive"

VERDICTS = (ACCESSIBLE, GEOBLOCKED, CHALLENGED, SERVER_DENIED, DNS_TAMPERING, TCP_BLOCKED,
            TLS_INTERFERENCE, HTTP_DIFF, INCONCLUSIVE)
