"""The TCP and TLS phases of a measurement.

TCP: a connect to each address found (bounded, in parallel for the first URL, in order after a
redirect), from the configured source address. TLS: a handshake that verifies the certificate
and keeps the chain; when verification fails the chain is fetched again without verification,
so the evidence holds the certificate that failed. Each attempt is recorded in the session
(``tcp_connect``, ``tls_handshakes`` and the transcripts).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
from typing import TYPE_CHECKING, Any

from .failures import failure_string

if TYPE_CHECKING:
    from .measure import Session

__all__ = ["MAX_HEAD", "Connection", "address_text", "connect_all", "connect_first", "tls"]

# The stream buffer limit of every connection, so a response head larger than this fails
# the read (asyncio.LimitOverrunError) instead of filling memory: it is not a web page.
MAX_HEAD = 64 * 1024


class Connection:
    __slots__ = ("reader", "writer", "ip", "port")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 ip: str, port: int) -> None:
        self.reader, self.writer, self.ip, self.port = reader, writer, ip, port

    def close(self) -> None:
        with contextlib.suppress(Exception):   # a dead connection: nothing to report
            self.writer.close()


async def open_tcp(session: Session, ip: str, port: int) -> Connection | str:
    start = session.now()
    local = (session.config.bind, 0) if session.config.bind else None
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(ip, port, local_addr=local, limit=MAX_HEAD),
            session.config.tcp_timeout)
        result: Connection | str = Connection(reader, writer, ip, port)
        failure = None
    except Exception as exc:  # noqa: BLE001
        result = failure = failure_string(exc)
    session.tcp_connect.append({"ip": ip, "port": port,
                                "status": {"success": failure is None, "failure": failure,
                                           "blocked": None},
                                "t0": start, "t": session.now()})
    return result


async def connect_all(session: Session, addresses: list[str], port: int) -> Connection | str:
    """Connect to every address in parallel (OONI tests each one); keep the first that
    worked, in resolver order, for the fetch."""
    results = await asyncio.gather(*(open_tcp(session, ip, port) for ip in addresses))
    chosen: Connection | str | None = None
    for result in results:
        if isinstance(result, Connection):
            if chosen is None or isinstance(chosen, str):
                chosen = result
            else:
                result.close()
        elif chosen is None:
            chosen = result
    return chosen if chosen is not None else "dns_no_answer"


async def connect_first(session: Session, addresses: list[str], port: int) -> Connection | str:
    failure = "dns_no_answer"
    for ip in addresses:
        result = await open_tcp(session, ip, port)
        if isinstance(result, Connection):
            return result
        failure = result
    return failure


async def tls(session: Session, connection: Connection, host: str) -> str | None:
    start = session.now()
    address = address_text(connection.ip, connection.port)
    entry: dict[str, Any] = {
        "network": "tcp", "address": address, "server_name": host, "failure": None,
        "peer_certificates": [], "tls_version": "", "cipher_suite": "",
        "negotiated_protocol": "", "no_tls_verify": False, "t0": start}
    try:
        await asyncio.wait_for(
            connection.writer.start_tls(session.config.ssl_context(True), server_hostname=host,
                                        ssl_handshake_timeout=session.config.tls_timeout),
            session.config.tls_timeout + 1)
        _describe_tls(entry, connection.writer.get_extra_info("ssl_object"))
    except Exception as exc:  # noqa: BLE001
        entry["failure"] = failure_string(exc)
        if isinstance(exc, ssl.SSLCertVerificationError):
            # Keep the certificate that failed: it is the evidence (an interception proxy's
            # certificate names who intercepts).
            await fetch_chain(session, entry, connection.ip, connection.port, host)
    entry["t"] = session.now()
    session.tls_handshakes.append(entry)
    session.transcripts.append({"type": "tls", "address": address, "server_name": host,
                                "failure": entry["failure"],
                                "tls_version": entry["tls_version"],
                                "cipher_suite": entry["cipher_suite"],
                                "peer_certificates_der_base64":
                                    [c["data"] for c in entry["peer_certificates"]],
                                "t0": start, "t": entry["t"]})
    return entry["failure"]


async def fetch_chain(session: Session, entry: dict, ip: str, port: int, host: str) -> None:
    local = (session.config.bind, 0) if session.config.bind else None
    writer = None
    try:
        _reader, writer = await asyncio.wait_for(
            asyncio.open_connection(ip, port, local_addr=local,
                                    ssl=session.config.ssl_context(False), server_hostname=host,
                                    ssl_handshake_timeout=session.config.tls_timeout),
            session.config.tcp_timeout + session.config.tls_timeout)
        _describe_tls(entry, writer.get_extra_info("ssl_object"))
    except Exception:  # noqa: BLE001, S110 - the failure of the verified handshake is recorded
        pass
    finally:
        if writer is not None:
            writer.close()


def address_text(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _describe_tls(entry: dict, ssl_object: Any) -> None:
    if ssl_object is None:
        return
    entry["tls_version"] = ssl_object.version() or ""
    cipher = ssl_object.cipher()
    entry["cipher_suite"] = cipher[0] if cipher else ""
    entry["negotiated_protocol"] = ssl_object.selected_alpn_protocol() or ""
    certificates: list[bytes] = []
    inner = getattr(ssl_object, "_sslobj", None)
    chain = getattr(inner, "get_unverified_chain", None) or getattr(
        ssl_object, "get_unverified_chain", None)
    if chain is not None:
        try:
            certificates = [c.public_bytes(ssl._ssl.ENCODING_DER) for c in chain() or []]
        except Exception:  # noqa: BLE001 - fall back to the leaf below
            certificates = []
    if not certificates:
        leaf = ssl_object.getpeercert(binary_form=True)
        certificates = [leaf] if leaf else []
    entry["peer_certificates"] = [{"format": "base64", "data": base64.b64encode(c).decode()}
                                  for c in certificates]
