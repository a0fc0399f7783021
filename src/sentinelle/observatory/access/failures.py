"""OONI failure strings (data format df-007) for the exceptions a measurement meets.

Every phase of a measurement (DNS, TCP, TLS, HTTP) reports its failure with OONI's names, so
that Sentinelle's results read like OONI's and the verdict rules can be shared.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl

__all__ = ["RCODE_FAILURES", "ContentDecodingError", "Http2Failure", "failure_string"]


class Http2Failure(Exception):
    """An HTTP/2 exchange that ended without a whole answer; ``failure`` is its name
    (``http2_stream_reset``, ``http2_goaway``, ``http2_protocol_error``): OONI has no names for
    these, so they follow its style, and the verdict treats them as any HTTP failure."""

    def __init__(self, failure: str, detail: str = "") -> None:
        super().__init__(f"{failure}: {detail}" if detail else failure)
        self.failure = failure


class ContentDecodingError(ValueError):
    """A body whose Content-Encoding does not decode (corrupt gzip, unknown coding...):
    ``http_content_decoding_error`` with the coding and why."""

_ERRNO_FAILURES = {
    errno.ECONNREFUSED: "connection_refused",
    errno.ECONNRESET: "connection_reset",
    errno.ECONNABORTED: "connection_aborted",
    errno.EHOSTUNREACH: "host_unreachable",
    errno.ENETUNREACH: "network_unreachable",
    errno.ENETDOWN: "network_down",
    errno.ENETRESET: "network_reset",
    errno.ETIMEDOUT: "generic_timeout_error",
    errno.EPIPE: "connection_reset",
    errno.EAFNOSUPPORT: "address_family_not_supported_error",
}
_GAI_FAILURES = {
    socket.EAI_NONAME: "dns_nxdomain_error",
    socket.EAI_AGAIN: "dns_temporary_failure",
    socket.EAI_FAIL: "dns_non_recoverable_failure",
}
if hasattr(socket, "EAI_NODATA"):
    _GAI_FAILURES[socket.EAI_NODATA] = "dns_no_answer"
RCODE_FAILURES = {2: "dns_servfail_error", 3: "dns_nxdomain_error", 5: "dns_refused_error"}
# OpenSSL verify codes (x509_vfy.h) -> OONI's names.
_UNKNOWN_AUTHORITY = {2, 18, 19, 20, 21, 27}


def failure_string(exc: BaseException) -> str:
    """OONI df-007 failure string for an exception."""
    if isinstance(exc, Http2Failure):
        return str(exc)[:200]
    if isinstance(exc, ContentDecodingError):
        return f"http_content_decoding_error: {exc}"[:200]
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return "generic_timeout_error"
    if isinstance(exc, ssl.SSLCertVerificationError):
        code = getattr(exc, "verify_code", 0)
        if code == 62 or "hostname mismatch" in str(exc).lower():
            return "ssl_invalid_hostname"
        if code in _UNKNOWN_AUTHORITY:
            return "ssl_unknown_authority"
        return "ssl_invalid_certificate"
    if isinstance(exc, ssl.SSLEOFError):
        return "eof_error"
    if isinstance(exc, ssl.SSLError):
        return "ssl_failed_handshake"
    if isinstance(exc, asyncio.IncompleteReadError | EOFError):
        return "eof_error"
    if isinstance(exc, socket.gaierror):
        return _GAI_FAILURES.get(exc.errno, "dns_server_misbehaving")
    if isinstance(exc, ConnectionRefusedError):
        return "connection_refused"
    if isinstance(exc, ConnectionResetError):
        return "connection_reset"
    if isinstance(exc, ConnectionAbortedError):
        return "connection_aborted"
    if isinstance(exc, OSError) and exc.errno in _ERRNO_FAILURES:
        return _ERRNO_FAILURES[exc.errno]
    return f"unknown_failure: {type(exc).__name__}: {exc}"[:200]
