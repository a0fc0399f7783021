"""The control helper on the Internet: it serves HTTPS itself (`probe helper --tls-cert --tls-key`,
TLS 1.2+), refuses to start on a missing, unreadable, mismatched or expired certificate/key naming
the file, prints its public-key pin (`--print-pin`), and the probe pins it (`--control-pin`):
checked on every connection before any request is sent, a mismatch names both pins and records
no measurement as if the control had answered. Real certificates from trustme."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import json
import os
import shutil
import ssl
import subprocess
import urllib.request
import warnings
from pathlib import Path

import pytest

from tests.paths import ROOT

pytest.importorskip("dnslib")
trustme = pytest.importorskip("trustme")
pytest.importorskip("mmdb_writer")

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402

from sentinelle.observatory.access import cli  # noqa: E402
from sentinelle.observatory.access import helper as h  # noqa: E402
from tests.observatory.access import probe_farm  # noqa: E402
from tests.observatory.access.probe_farm import CONTROL_IP, PROBE_IP, SERVER_IP, TOKEN, LoopThread  # noqa: E402
from tests.observatory.systemd_units import assert_systemd_accepts, unit_argv  # noqa: E402

UNIT = ROOT / "deploy" / "systemd" / "sentinelle-probe-helper.service"


@pytest.fixture(scope="module")
def farm(tmp_path_factory):
    yield from probe_farm.running_farm(tmp_path_factory.mktemp("farm"))


def write_cert(directory: Path, name: str, **options) -> tuple[Path, Path]:
    """A leaf certificate for the helper (chain included, as Let's Encrypt's fullchain.pem)."""
    leaf = trustme.CA().issue_cert("helper.example.ch", SERVER_IP, **options)
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    key.write_bytes(leaf.private_key_pem.bytes())
    key.chmod(0o600)            # the helper refuses a key every user can read
    return cert, key


def spki_pin(cert: Path) -> tuple[str, str]:
    """(base64, hex) of the SHA-256 of the leaf's SubjectPublicKeyInfo, computed here."""
    leaf = x509.load_pem_x509_certificates(cert.read_bytes())[0]
    spki = leaf.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    digest = hashlib.sha256(spki).digest()
    return base64.b64encode(digest).decode(), digest.hex()


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    directory = tmp_path_factory.mktemp("certs")
    cert, key = write_cert(directory, "helper")
    other_cert, _other_key = write_cert(directory, "other")
    return {"cert": cert, "key": key, "pin": spki_pin(cert), "other_pin": spki_pin(other_cert),
            "dir": directory}


class TlsHelper:
    """The real helper server serving HTTPS, on its own loop thread; counts the requests it
    read (every request with a head reaches the token check)."""

    def __init__(self, farm, cert: Path | None, key: Path | None) -> None:
        self.seen = 0
        config = h.HelperConfig(listen=(SERVER_IP, 0), token=TOKEN, bind=CONTROL_IP,
                                allow_private=True, timeout=2.0, ca_file=str(farm.ca_file),
                                tls_cert=str(cert) if cert else None,
                                tls_key=str(key) if key else None)
        self.thread = LoopThread("tls-helper")
        self.server = self.thread.call(self._make(config))
        original = self.server.authorised

        def counting(value: str) -> bool:
            self.seen += 1
            return original(value)

        self.server.authorised = counting
        host, port = self.thread.call(self.server.start())
        self.url = f"{'https' if cert else 'http'}://{host}:{port}"

    async def _make(self, config):
        return h.HelperServer(config)

    def stop(self) -> None:
        self.thread.call(self.server.close())
        self.thread.stop()


@pytest.fixture(scope="module")
def tls_helper(farm, certs):
    helper = TlsHelper(farm, certs["cert"], certs["key"])
    yield helper
    helper.stop()


@pytest.fixture
def plain_helper(farm):
    helper = TlsHelper(farm, None, None)
    yield helper
    helper.stop()


# ---- the helper serves HTTPS -----------------------------------------------------------------

def test_https_helper_answers_over_tls_1_2_or_later(tls_helper, certs):
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    request = urllib.request.Request(tls_helper.url + "/v1/identity",
                                     headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, context=context, timeout=5) as response:  # noqa: S310
        answer = json.loads(response.read())
    assert answer["software"] == h.SOFTWARE
    # TLS 1.1 and older are refused
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname = False
    old.verify_mode = ssl.CERT_NONE
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            old.minimum_version = ssl.TLSVersion.TLSv1
            old.maximum_version = ssl.TLSVersion.TLSv1_1
    except (ValueError, ssl.SSLError):
        return      # this OpenSSL cannot even offer TLS 1.1
    with pytest.raises((ssl.SSLError, OSError)):
        urllib.request.urlopen(tls_helper.url + "/v1/identity", context=old, timeout=5)  # noqa: S310


# ---- the probe pins it -----------------------------------------------------------------------

def ask(farm, url: str, pins: list[str]):
    async def go():
        client = h.ControlClient(url, TOKEN, bind=PROBE_IP, timeout=2, pins=pins)
        return await client.measure(farm.url("accessible-https"), farm.resolver, 1.5,
                                    system_resolver=False)
    return asyncio.run(go())


@pytest.mark.parametrize("form", ["curl", "colon-base64", "hex"])
def test_right_pin_a_measurement_works(farm, certs, tls_helper, form):
    b64, hexa = certs["pin"]
    pin = {"curl": f"sha256//{b64}", "colon-base64": f"sha256:{b64}", "hex": f"sha256:{hexa}"}
    # a self-signed/private-CA certificate: the pin is the trust, no CA file is needed
    answer = ask(farm, tls_helper.url, [pin[form]])
    assert answer["measurement"]["requests"][0]["response"]["code"] == 200


def test_wrong_pin_is_refused_before_any_request(farm, certs, tls_helper):
    before = tls_helper.seen
    wrong = f"sha256//{certs['other_pin'][0]}"
    with pytest.raises(h.PinMismatch) as caught:
        ask(farm, tls_helper.url, [wrong])
    message = str(caught.value)
    assert wrong in message                                   # expected
    assert f"sha256//{certs['pin'][0]}" in message            # received
    assert tls_helper.seen == before                           # the helper read no request


def test_a_pin_on_a_plain_http_control_is_refused(farm, certs, plain_helper):
    with pytest.raises(ValueError, match="--control-pin needs an https:// control"):
        ask(farm, plain_helper.url, [f"sha256//{certs['pin'][0]}"])
    assert plain_helper.seen == 0


def test_an_https_url_on_a_plain_helper_fails_without_a_request(farm, certs, plain_helper):
    url = plain_helper.url.replace("http://", "https://")
    with pytest.raises(h.ControlError, match="unreachable"):
        ask(farm, url, [f"sha256//{certs['pin'][0]}"])
    assert plain_helper.seen == 0


def test_pin_forms_and_bad_pins():
    from sentinelle.observatory.access import tls_pin

    digest = bytes(range(32))
    b64 = base64.b64encode(digest).decode()
    for text in (f"sha256//{b64}", f"sha256:{b64}", f"sha256:{digest.hex()}",
                 f"sha256:{digest.hex().upper()}", "sha256:" + ":".join(f"{b:02x}" for b in digest),
                 f"sha256//{b64.rstrip('=')}"):
        assert tls_pin.parse_pins(text) == [digest], text
    assert tls_pin.parse_pins(f"sha256//{b64};sha256//{base64.b64encode(bytes(32)).decode()}") \
        == [digest, bytes(32)]                                  # curl's ';' list (a backup key)
    for bad, why in (("sha1//abc", "sha256"), (b64, "sha256"), ("sha256//abc", "32 bytes"),
                     ("sha256:" + "g" * 64, "neither base64 nor hex"), ("sha256:", "empty")):
        with pytest.raises(ValueError, match=why):
            tls_pin.parse_pins(bad)
    assert tls_pin.format_pin(digest) == f"sha256//{b64}"


# ---- the CLI ---------------------------------------------------------------------------------

def probe_run(farm, tmp_path, control_url, *more) -> tuple[int, Path]:
    listing = tmp_path / "list.csv"
    listing.write_text(f"url,category_code,notes\n{farm.url('accessible-https')},NEWS,x\n")
    output = tmp_path / "out.jsonl"
    code = cli.main(["run", "--list", str(listing), "--control", control_url,
                     "--control-token", TOKEN, "--output", str(output), "--bind", PROBE_IP,
                     "--timeout", "1.5", "--resolver", farm.resolver, "--no-system-resolver",
                     "--ca-file", str(farm.ca_file), "--no-progress", *more])
    return code, output


def test_cli_run_with_the_right_pin(farm, certs, tls_helper, tmp_path):
    code, output = probe_run(farm, tmp_path, tls_helper.url,
                             "--control-pin", f"sha256//{certs['pin'][0]}")
    assert code == 0
    line = json.loads(output.read_text().splitlines()[0])
    assert line["verdict"] == "accessible"


def test_cli_run_with_a_wrong_pin_records_nothing(farm, certs, tls_helper, tmp_path, capsys):
    before = tls_helper.seen
    wrong = f"sha256//{certs['other_pin'][0]}"
    code, output = probe_run(farm, tmp_path, tls_helper.url, "--control-pin", wrong)
    err = capsys.readouterr().err
    assert code == 1
    assert wrong in err and f"sha256//{certs['pin'][0]}" in err
    assert not output.exists()                                 # no line, not even inconclusive
    assert tls_helper.seen == before


def test_cli_run_pin_with_a_plain_http_control(farm, certs, plain_helper, tmp_path, capsys):
    code, output = probe_run(farm, tmp_path, plain_helper.url,
                             "--control-pin", f"sha256//{certs['pin'][0]}")
    assert code == 2
    assert "--control-pin needs an https:// control" in capsys.readouterr().err
    assert not output.exists()
    assert plain_helper.seen == 0


def test_cli_bad_pin_is_named(farm, tls_helper, tmp_path, capsys):
    code, _output = probe_run(farm, tmp_path, tls_helper.url, "--control-pin", "md5:abc")
    assert code == 2
    assert "--control-pin" in capsys.readouterr().err


def test_print_pin(certs, capsys):
    assert cli.main(["helper", "--print-pin", "--tls-cert", str(certs["cert"])]) == 0
    out = capsys.readouterr().out
    assert out == f"sha256//{certs['pin'][0]}\n"


def test_print_pin_is_what_curls_openssl_recipe_gives(certs, capsys):
    """docs/observatory.md gives the openssl pipeline (curl's --pinnedpubkey recipe) as a check."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    pubkey = subprocess.run([openssl, "x509", "-in", str(certs["cert"]), "-pubkey", "-noout"],
                            capture_output=True, check=True).stdout
    der = subprocess.run([openssl, "pkey", "-pubin", "-outform", "der"], input=pubkey,
                         capture_output=True, check=True).stdout
    assert cli.main(["helper", "--print-pin", "--tls-cert", str(certs["cert"])]) == 0
    expected = base64.b64encode(hashlib.sha256(der).digest()).decode()
    assert capsys.readouterr().out.strip() == f"sha256//{expected}"


# ---- the helper refuses to start ------------------------------------------------------------

def refuses(args: list[str], monkeypatch, capsys) -> str:
    async def started(self):
        raise AssertionError("the helper started")
    monkeypatch.setattr(h.HelperServer, "start", started)
    code = cli.main(["helper", "--listen", "127.0.0.1:0", "--token", TOKEN, *args])
    err = capsys.readouterr().err
    assert code == 2, err
    return err


def test_helper_refuses_a_missing_cert_or_key(certs, tmp_path, monkeypatch, capsys):
    missing = tmp_path / "nope.pem"
    err = refuses(["--tls-cert", str(missing), "--tls-key", str(certs["key"])], monkeypatch, capsys)
    assert "--tls-cert" in err and str(missing) in err
    err = refuses(["--tls-cert", str(certs["cert"]), "--tls-key", str(missing)], monkeypatch,
                  capsys)
    assert "--tls-key" in err and str(missing) in err
    err = refuses(["--tls-cert", str(certs["cert"])], monkeypatch, capsys)
    assert "--tls-key" in err                                   # one without the other


def test_helper_refuses_unreadable_files(certs, tmp_path, monkeypatch, capsys):
    err = refuses(["--tls-cert", str(tmp_path), "--tls-key", str(certs["key"])], monkeypatch,
                  capsys)
    assert "--tls-cert" in err and str(tmp_path) in err
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    err = refuses(["--tls-cert", str(garbage), "--tls-key", str(certs["key"])], monkeypatch,
                  capsys)
    assert str(garbage) in err and "no PEM certificate" in err
    err = refuses(["--tls-cert", str(certs["cert"]), "--tls-key", str(garbage)], monkeypatch,
                  capsys)
    assert str(garbage) in err and "no PEM private key" in err
    if os.geteuid() != 0:           # root reads a mode-000 file anyway
        locked = tmp_path / "locked.key"
        locked.write_bytes(certs["key"].read_bytes())
        locked.chmod(0)
        err = refuses(["--tls-cert", str(certs["cert"]), "--tls-key", str(locked)], monkeypatch,
                      capsys)
        assert str(locked) in err and "cannot read" in err


def test_helper_refuses_a_key_that_does_not_match(certs, tmp_path, monkeypatch, capsys):
    _cert, other_key = write_cert(tmp_path, "third")
    err = refuses(["--tls-cert", str(certs["cert"]), "--tls-key", str(other_key)], monkeypatch,
                  capsys)
    assert str(other_key) in err and str(certs["cert"]) in err and "does not match" in err


def test_helper_refuses_an_expired_or_future_certificate(tmp_path, monkeypatch, capsys):
    now = dt.datetime.now(dt.UTC)
    cert, key = write_cert(tmp_path, "expired", not_before=now - dt.timedelta(days=100),
                           not_after=now - dt.timedelta(days=10))
    err = refuses(["--tls-cert", str(cert), "--tls-key", str(key)], monkeypatch, capsys)
    assert str(cert) in err and "expired on" in err
    cert, key = write_cert(tmp_path, "future", not_before=now + dt.timedelta(days=10),
                           not_after=now + dt.timedelta(days=100))
    err = refuses(["--tls-cert", str(cert), "--tls-key", str(key)], monkeypatch, capsys)
    assert str(cert) in err and "not valid before" in err


def test_helper_refuses_an_encrypted_key(certs, tmp_path, monkeypatch, capsys):
    key = serialization.load_pem_private_key(certs["key"].read_bytes(), password=None)
    encrypted = tmp_path / "with-password.key"
    encrypted.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret")))
    err = refuses(["--tls-cert", str(certs["cert"]), "--tls-key", str(encrypted)], monkeypatch,
                  capsys)
    assert str(encrypted) in err and "is encrypted" in err


# ---- the systemd unit ------------------------------------------------------------------------

ENV = ROOT / "deploy" / "probe-helper.env.example"


def test_the_unit_runs_a_command_line_the_helper_accepts():
    argv = unit_argv(UNIT, ENV)
    assert argv[:3] == ["/opt/sentinelle/bin/sentinelle", "probe", "helper"]
    args = cli.build_parser().parse_args(argv[2:])
    # systemd's credentials directory holds the certificate and key it copied at start
    assert args.tls_cert == "%d/tls-cert"
    assert args.tls_key == "%d/tls-key"
    assert args.token is None and "--token" not in argv        # the token is not in ps
    assert args.self_cc == "CH" and args.listen == ("0.0.0.0", 8443)  # noqa: S104
    text = UNIT.read_text()
    for setting in ("DynamicUser=yes", "NoNewPrivileges=true", "ProtectSystem=strict",
                    "LoadCredential=tls-cert:", "LoadCredential=tls-key:",
                    "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6"):
        assert setting in text, setting


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    assert_systemd_accepts(UNIT, tmp_path)


@pytest.mark.parametrize(("url", "warned"), [
    ("http://helper.example.ch:8443", True),
    ("http://192.0.2.7:8443", True),
    ("HTTP://[2001:db8::1]:8443", True),
    ("https://helper.example.ch:8443", False),
    ("http://127.0.0.1:8443", False),
    ("http://[::1]:8443", False),
    ("http://localhost:8443", False),
])
def test_a_plain_http_control_abroad_is_warned_about(url, warned):
    """The control token is a bearer token: over plain HTTP, anyone on the path (the censor
    included) reads it and can use the helper."""
    from sentinelle.observatory.access.cli import cleartext_warning

    message = cleartext_warning(url, "--control", "the control token")
    assert (message is not None) == warned
    if warned:
        assert url in message and "in clear" in message and "--tls-cert" in message
