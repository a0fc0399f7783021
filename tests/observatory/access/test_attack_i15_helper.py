"""Attacks on the control helper on the Internet (issue 15): SSRF through it, its rate limit,
its request parsing, its TLS files, and slow TLS handshakes. Real loopback servers; each test is
one attack, and those that found a hole failed before the fix that came with them."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import socket
import ssl
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

trustme = pytest.importorskip("trustme")

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402

from sentinelle.observatory.access import helper as h  # noqa: E402
from sentinelle.observatory.access import tls_pin  # noqa: E402
from tests.observatory.access.probe_farm import TOKEN, LoopThread  # noqa: E402
from tests.observatory.access.test_probe_helper_tls import refuses, write_cert  # noqa: E402

REDIRECTOR_IP = "127.0.0.4"     # the one address the helper may reach (--allow-net)
INSIDE_IP = "127.0.0.1"         # what it must never reach


class Servers:
    """A helper (only 127.0.0.4/32 allowed), a redirector on 127.0.0.4 and an "internal"
    server on 127.0.0.1 that counts every connection it gets."""

    def __init__(self, **options) -> None:
        self.thread = LoopThread("i15-attack")
        self.inside_hits = 0
        self.redirect_to = ""
        self.inside = self.thread.call(asyncio.start_server(self._inside, INSIDE_IP, 0))
        self.inside_port = self.inside.sockets[0].getsockname()[1]
        self.redirector = self.thread.call(asyncio.start_server(self._redirect, REDIRECTOR_IP, 0))
        self.redirector_port = self.redirector.sockets[0].getsockname()[1]
        config = h.HelperConfig(listen=("127.0.0.1", 0), token=TOKEN, timeout=2.0,
                                allow_nets=(h.ipaddress.ip_network(f"{REDIRECTOR_IP}/32"),),
                                **options)
        self.helper = self.thread.call(self._make(config))
        host, port = self.thread.call(self.helper.start())
        self.url = f"http://{host}:{port}"

    async def _make(self, config):
        return h.HelperServer(config)

    async def _inside(self, reader, writer) -> None:
        self.inside_hits += 1
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nsecret")
        await writer.drain()
        writer.close()

    async def _redirect(self, reader, writer) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(f"HTTP/1.1 302 Found\r\nLocation: {self.redirect_to}\r\n"
                     "Content-Length: 0\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        writer.close()

    def measure(self, url: str) -> tuple[int, dict]:
        request = urllib.request.Request(
            self.url + "/v1/measure", data=json.dumps({"url": url}).encode(), method="POST",
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def stop(self) -> None:
        for server in (self.inside, self.redirector):
            server.close()
        self.thread.call(self.helper.close())
        self.thread.stop()


@pytest.fixture(scope="module")
def servers():
    running = Servers()
    yield running
    running.stop()


# --- SSRF ---------------------------------------------------------------------------------

@pytest.mark.parametrize("host", [
    "127.0.0.1", "2130706433", "0x7f000001", "0x7f.1", "017700000001", "127.1",
    "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "[::1]", "0", "0.0.0.0",
])
def test_the_helper_never_fetches_an_internal_address_however_written(servers, host):
    before = servers.inside_hits
    status, answer = servers.measure(f"http://{host}:{servers.inside_port}/")
    assert status == 403, answer
    assert "refused" in answer["error"]
    assert servers.inside_hits == before


@pytest.mark.parametrize("target", [
    "http://127.0.0.1:{port}/", "http://2130706433:{port}/", "http://[::ffff:127.0.0.1]:{port}/",
    "http://localhost:{port}/",
])
def test_a_redirect_from_an_allowed_host_to_an_internal_one_is_refused(servers, target):
    servers.redirect_to = target.format(port=servers.inside_port)
    before = servers.inside_hits
    status, answer = servers.measure(f"http://{REDIRECTOR_IP}:{servers.redirector_port}/")
    assert status == 403, answer
    assert servers.inside_hits == before


@pytest.mark.parametrize("address", [
    "fec0::1",                  # IPv6 site-local (deprecated, still routed inside some networks)
    "fec0:0:0:1::10", "feff::1",
])
def test_ipv6_site_local_addresses_are_refused(address):
    """Hole: fec0::/10 is neither private, reserved nor link-local for Python's ipaddress and
    counts as global, so the helper would fetch from a site-local network."""
    assert h.address_problem(address) is not None


@pytest.mark.parametrize("address", [
    "::ffff:10.0.0.1", "2002:a00:1::", "64:ff9b::a00:1", "::a00:1", "100.64.0.1",
    "fe80::1%eth0", "169.254.169.254", "::ffff:0:a00:1", "::",
])
def test_other_disguised_internal_addresses_are_refused(address):
    assert h.address_problem(address) is not None


# --- the rate limit -----------------------------------------------------------------------

async def _dispatch(server: h.HelperServer, head: bytes, client: str):
    reader = asyncio.StreamReader()
    reader.feed_data(head)
    reader.feed_eof()
    return await server.dispatch(reader, None, client)


def test_the_rate_limit_holds_across_one_ipv6_slash_64():
    """Hole: the bucket was per address, and anyone with an IPv6 /64 has 2**64 of them: each
    new address got a full burst (a flood of 401s, each costing a token comparison)."""
    async def go():
        server = h.HelperServer(h.HelperConfig(listen=("127.0.0.1", 0), token=TOKEN,
                                               rate_per_minute=1))
        head = b"GET /v1/identity HTTP/1.1\r\nHost: x\r\n\r\n"
        first = await _dispatch(server, head, "2001:db8:1:2::1")
        second = await _dispatch(server, head, "2001:db8:1:2:ffff:ffff:ffff:9")
        other = await _dispatch(server, head, "2001:db8:1:3::1")
        return first[0], second[0], other[0]
    assert asyncio.run(go()) == (401, 429, 401)


def test_an_ipv4_client_keeps_its_own_bucket():
    assert h.rate_key("192.0.2.1") != h.rate_key("192.0.2.2")
    assert h.rate_key("::ffff:192.0.2.1") == h.rate_key("192.0.2.1")


@pytest.mark.parametrize("length", ["\u00b2", "\u0661\u0662", "+5", "-1", "5 5", "1" * 5000])
def test_a_content_length_that_is_not_ascii_digits_is_a_400(length):
    """Hole: a Content-Length of 5000 digits passed str.isdigit() and int() raised (Python
    refuses 4300+ digits): a 500 "internal error" instead of a 4xx. The non-ASCII digits held
    (the head is read as latin-1)."""
    async def go():
        server = h.HelperServer(h.HelperConfig(listen=("127.0.0.1", 0), token=TOKEN))
        head = (f"POST /v1/measure HTTP/1.1\r\nContent-Length: {length}\r\n"
                f"Authorization: Bearer {TOKEN}\r\n\r\n").encode()
        return await _dispatch(server, head, "192.0.2.1")
    status, answer, _extra = asyncio.run(go())
    assert status in (400, 413), answer
    assert "Content-Length" in answer["error"] or "larger" in answer["error"]


# --- TLS files ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cert_files(tmp_path_factory):
    directory = tmp_path_factory.mktemp("attack-certs")
    return write_cert(directory, "helper")


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
@pytest.mark.parametrize("mode", [0o644, 0o604, 0o666])
def test_a_private_key_readable_by_every_user_is_refused(cert_files, tmp_path, mode,
                                                         monkeypatch, capsys):
    """Hole: a key file any local user can read (0644, the default umask's) was accepted
    silently: whoever reads it can impersonate the pinned helper."""
    cert, key = cert_files
    exposed = tmp_path / "exposed.key"
    exposed.write_bytes(key.read_bytes())
    exposed.chmod(mode)
    with pytest.raises(tls_pin.TLSFileError, match=r"--tls-key .*exposed\.key.*every user"):
        tls_pin.server_context(cert, exposed)
    err = refuses(["--tls-cert", str(cert), "--tls-key", str(exposed)], monkeypatch, capsys)
    assert "--tls-key" in err and "exposed.key" in err


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
@pytest.mark.parametrize("mode", [0o600, 0o400, 0o640])
def test_a_private_key_kept_from_other_users_is_accepted(cert_files, tmp_path, mode):
    cert, key = cert_files
    kept = tmp_path / "kept.key"
    kept.write_bytes(key.read_bytes())
    kept.chmod(mode)
    assert isinstance(tls_pin.server_context(cert, kept), ssl.SSLContext)


# --- slow TLS handshakes --------------------------------------------------------------------

def test_a_client_that_never_finishes_the_tls_handshake_is_dropped(cert_files, monkeypatch):
    """Slowloris on the handshake: a TCP connection that sends nothing (or half a hello) is
    closed after READ_TIMEOUT (held)."""
    monkeypatch.setattr(h, "READ_TIMEOUT", 0.5)
    cert, key = cert_files
    thread = LoopThread("i15-slow")

    async def make():
        return h.HelperServer(h.HelperConfig(listen=("127.0.0.1", 0), token=TOKEN,
                                             tls_cert=str(cert), tls_key=str(key)))
    server = thread.call(make())
    try:
        host, port = thread.call(server.start())
        for opening in (b"", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"):
            with socket.create_connection((host, port), timeout=10) as sock:
                sock.sendall(opening)
                started = time.monotonic()
                assert sock.recv(1024) == b""            # closed by the helper
                assert time.monotonic() - started < 8
    finally:
        thread.call(server.close())
        thread.stop()


def test_key_file_paths_used_in_messages_are_those_given(cert_files, tmp_path):
    """A symlinked key (certbot's live/ directory) is read through the link and named as given."""
    cert, key = cert_files
    key.chmod(0o600)
    link = tmp_path / "privkey.pem"
    link.symlink_to(key)
    assert isinstance(tls_pin.server_context(cert, link), ssl.SSLContext)
    assert Path(link).is_symlink()


def _in_thread(call, fifo: Path | None = None, wait: float = 5.0):
    """Run ``call`` in a thread; if it is still blocked after ``wait`` seconds, unblock a FIFO
    reader by opening the FIFO for writing, and report the hang."""
    import threading

    outcome: dict = {}

    def target():
        try:
            outcome["value"] = call()
        except Exception as exc:  # noqa: BLE001 - handed back to the test
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(wait)
    hung = thread.is_alive()
    if hung and fifo is not None:
        with open(fifo, "wb"):                      # the reader gets EOF and returns
            pass
        thread.join(5)
    return hung, outcome


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
@pytest.mark.parametrize("which", ["cert", "key"])
def test_a_fifo_for_cert_or_key_is_refused_without_hanging(cert_files, tmp_path, which):
    """Hole: --tls-cert/--tls-key naming a FIFO (or a device) made the helper's start block
    forever in read_bytes(), instead of a clear error naming the file."""
    cert, key = cert_files
    key.chmod(0o600)
    fifo = tmp_path / f"{which}.pem"
    os.mkfifo(fifo, 0o600)
    args = (fifo, key) if which == "cert" else (cert, fifo)
    hung, outcome = _in_thread(lambda: tls_pin.server_context(*args), fifo)
    assert not hung, "the helper blocked reading a FIFO"
    error = outcome.get("error")
    assert isinstance(error, tls_pin.TLSFileError), outcome
    assert f"--tls-{which}" in str(error) and str(fifo) in str(error)
    assert "not a regular file" in str(error)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_a_device_for_the_key_is_refused(cert_files):
    cert, _key = cert_files
    hung, outcome = _in_thread(lambda: tls_pin.server_context(cert, "/dev/zero"))
    assert not hung
    assert "not a regular file" in str(outcome.get("error")), outcome


def test_a_huge_certificate_file_is_refused_before_it_is_read_whole(cert_files, tmp_path):
    cert, key = cert_files
    huge = tmp_path / "huge.pem"
    with huge.open("wb") as stream:
        stream.write(cert.read_bytes())
        stream.truncate(64 * 1024 * 1024)           # sparse: 64 MiB of zeros after the PEM
    with pytest.raises(tls_pin.TLSFileError, match=r"--tls-cert .*huge\.pem.*larger than"):
        tls_pin.server_context(huge, key)


# --- the probe's pin ----------------------------------------------------------------------

class PinnedImpostor:
    """A TLS server with the given certificate and key that answers every request with a
    redirect to a second (plain) server, and counts what each received."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.thread = LoopThread("i15-pin")
        self.heads: list[bytes] = []
        self.second_hits = 0
        context = tls_pin.server_context(cert, key)
        self.second = self.thread.call(asyncio.start_server(self._second, "127.0.0.1", 0))
        second_port = self.second.sockets[0].getsockname()[1]
        self.location = f"http://127.0.0.1:{second_port}/v1/identity"
        self.server = self.thread.call(asyncio.start_server(self._first, "127.0.0.1", 0,
                                                            ssl=context))
        self.url = f"https://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _first(self, reader, writer) -> None:
        try:
            self.heads.append(await reader.readuntil(b"\r\n\r\n"))
            writer.write(f"HTTP/1.1 307 Temporary Redirect\r\nLocation: {self.location}\r\n"
                         "Content-Type: application/json\r\nContent-Length: 2\r\n"
                         "Connection: close\r\n\r\n{}".encode())
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        writer.close()

    async def _second(self, reader, writer) -> None:
        self.second_hits += 1
        writer.close()

    async def _shutdown(self) -> None:
        self.server.close()
        self.second.close()
        current = asyncio.current_task()
        pending = [t for t in asyncio.all_tasks() if t is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def stop(self) -> None:
        self.thread.call(self._shutdown())
        self.thread.stop()


def _ask(url: str, pins: list[str]):
    async def go():
        return await h.ControlClient(url, TOKEN, timeout=3, pins=pins).identity()
    return asyncio.run(go())


def test_a_pinned_helper_that_redirects_is_not_followed(cert_files):
    """The pinned helper answering 307 to another (unpinned, plain) host: the probe reports the
    control as failed and never connects there, so the token goes nowhere else (held)."""
    cert, key = cert_files
    key.chmod(0o600)
    impostor = PinnedImpostor(cert, key)
    try:
        with pytest.raises(h.ControlError, match="307"):
            _ask(impostor.url, [tls_pin.cert_pin(cert)])
        assert len(impostor.heads) == 1
        assert impostor.second_hits == 0
    finally:
        impostor.stop()


def test_a_pin_of_the_ca_does_not_admit_its_leaf(tmp_path):
    """Pinning the issuing CA's key instead of the leaf's does not admit the leaf (nor any
    other certificate the CA signs): the pin is compared with the leaf only, nothing sent."""
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1")
    cert, key = tmp_path / "leaf.pem", tmp_path / "leaf.key"
    cert.write_bytes(leaf.cert_chain_pems[0].bytes())
    key.write_bytes(leaf.private_key_pem.bytes())
    key.chmod(0o600)
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem.bytes())
    ca_pin = tls_pin.format_pin(hashlib.sha256(ca_cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).digest())
    impostor = PinnedImpostor(cert, key)
    try:
        with pytest.raises(h.PinMismatch):
            _ask(impostor.url, [ca_pin])
        assert impostor.heads == []                     # not a byte of the request
    finally:
        impostor.stop()


@pytest.mark.parametrize("mangle", [
    lambda b64, hexa: f"sha256//{b64.swapcase()}",      # base64 is case-sensitive
    lambda b64, hexa: f"sha256//{b64[:-4]}",            # a prefix is not the pin
    lambda b64, hexa: f"sha256:{hexa[:-2]}",
    lambda b64, hexa: f"sha256:{hexa}00",
])
def test_a_pin_that_is_almost_right_is_refused(cert_files, mangle):
    cert, key = cert_files
    key.chmod(0o600)
    digest = bytes.fromhex(tls_pin.parse_pins(tls_pin.cert_pin(cert))[0].hex())
    b64, hexa = base64.b64encode(digest).decode(), digest.hex()
    pin = mangle(b64, hexa)
    try:
        parsed = tls_pin.parse_pins(pin)
    except ValueError:
        return                                          # refused as a malformed pin
    assert digest not in parsed
    impostor = PinnedImpostor(cert, key)
    try:
        with pytest.raises(h.PinMismatch):
            _ask(impostor.url, [pin])
        assert impostor.heads == []
    finally:
        impostor.stop()
