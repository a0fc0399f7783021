"""``sentinelle probe run|helper|campaign``: the access probe, its control helper and campaigns.

``main(argv)`` gets the arguments after ``probe`` (e.g. ``["run", "--list", "x.csv", ...]``)
and returns the exit status: 0 done, 1 the run failed, 2 bad options or an unreadable list
(the message names the problem). No Django here: the probe runs on a laptop with only the
package installed. (``probe submit`` is a Django command, dispatched elsewhere.)
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import sys
from gettext import ngettext
from pathlib import Path
from urllib.parse import urlsplit

from sentinelle.observatory.access import measure as m

RUN_EXAMPLE = """\
example:
  sentinelle probe run --list cu.csv --control https://helper.example.ch:8443 \\
      --control-token "$TOKEN" --output cu-2026-11-28.jsonl --self-cc CU --self-asn 27725 \\
      --geoip-db GeoLite2-Country.mmdb --asn-db GeoLite2-ASN.mmdb \\
      --sign-key probe.key --bundle cu-2026-11-28.zip

The list is CSV: url,category_code,notes (Citizen Lab test-list columns are accepted too).
Bad lines are reported by line number and skipped. The control token may also be given in
SENTINELLE_CONTROL_TOKEN (keeps it out of the process list).
"""

HELPER_EXAMPLE = """\
example:
  sentinelle probe helper --listen 0.0.0.0:8443 --token "$TOKEN" --self-cc CH --self-asn 3303 \\
      --rate 600/min --tls-cert fullchain.pem --tls-key privkey.pem
  sentinelle probe helper --print-pin --tls-cert fullchain.pem   # give this to the probe

The helper refuses loopback, private, link-local, multicast and reserved targets (checked on
every resolved address and every redirect) unless --allow-private or --allow-net CIDR.
With --tls-cert and --tls-key it serves HTTPS (TLS 1.2+); without them, plain HTTP (a tunnel
or a test farm only). The token may also be given in SENTINELLE_HELPER_TOKEN.
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:       # exit 2 with the problem named, as argparse
        self.print_usage(sys.stderr)
        raise _BadOptions(f"{self.prog}: error: {message}")


class _BadOptions(Exception):
    pass


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def _ip(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an IP address: {text!r}") from None


def _resolver(text: str) -> str | None:
    if text.lower() in ("none", "off", ""):
        return None
    try:
        m.parse_resolver(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _cc(text: str) -> str:
    if len(text) != 2 or not text.isalpha():
        raise argparse.ArgumentTypeError(f"country code must be two letters, got {text!r}")
    return text.upper()


def _asn(text: str) -> int:
    digits = text.upper().removeprefix("AS")
    if not digits.isdigit() or not 0 < int(digits) < 2**32:
        raise argparse.ArgumentTypeError(f"not an AS number: {text!r}")
    return int(digits)


def _file(text: str) -> Path:
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"no such file: {text}")
    return path


def _pin(text: str) -> str:
    from sentinelle.observatory.access.tls_pin import parse_pins

    try:
        parse_pins(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _rate(text: str) -> float:
    number = text.lower().removesuffix("/min").removesuffix("/m")
    try:
        value = float(number)
    except ValueError:
        raise argparse.ArgumentTypeError(f"rate must be N/min, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError("rate must be positive")
    return value


def _listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    try:
        ipaddress.ip_address(host)
        number = int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--listen must be ADDRESS:PORT, got {text!r}") from None
    if not sep or not 0 <= number < 65536:
        raise argparse.ArgumentTypeError(f"--listen must be ADDRESS:PORT, got {text!r}")
    return host, number


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sentinelle probe",
                     description="Access observatory: measure denial of access to public "
                                 "Internet resources against a control vantage point.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="measure a list of URLs here and at a control helper",
                         description="Measure every URL of a list from here and from the "
                                     "control helper; write one OONI-compatible JSON line per "
                                     "URL with our verdict; optionally a signed evidence "
                                     "bundle.",
                         epilog=RUN_EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("--list", required=True, type=Path, metavar="FILE",
                     help="CSV list of URLs (url,category_code,notes or Citizen Lab columns)")
    run.add_argument("--control", required=True, metavar="URL",
                     help="the control helper, e.g. https://helper.example.ch:8443")
    run.add_argument("--control-token", metavar="T",
                     default=os.environ.get("SENTINELLE_CONTROL_TOKEN"),
                     help="the helper's bearer token (default: $SENTINELLE_CONTROL_TOKEN)")
    run.add_argument("--control-pin", type=_pin, action="append", default=[], metavar="PIN",
                     help="the helper's public-key pin, as `probe helper --print-pin` prints "
                          "it: sha256//BASE64 (curl --pinnedpubkey), sha256:BASE64 or "
                          "sha256:HEX of the SHA-256 of its SubjectPublicKeyInfo; checked on "
                          "every connection before anything is sent; repeatable (a backup key)")
    run.add_argument("--output", required=True, type=Path, metavar="FILE.jsonl",
                     help="measurements, one JSON line per URL, written as they complete")
    run.add_argument("--bind", type=_ip, metavar="ADDR",
                     help="source address of every connection (and DNS query)")
    run.add_argument("--concurrency", type=_positive_int, default=16, metavar="N",
                     help="URLs measured at once (default 16)")
    run.add_argument("--per-host", type=_positive_int, default=2, metavar="N",
                     help="URLs of one host name measured at once (default 2)")
    run.add_argument("--timeout", type=_positive_float, default=10.0, metavar="S",
                     help="timeout of each phase: TCP, TLS, HTTP (default 10; DNS at most 4)")
    run.add_argument("--geoip-db", type=_file, metavar="PATH",
                     help="country MMDB (GeoLite2-Country or a combined file)")
    run.add_argument("--asn-db", type=_file, metavar="PATH", help="ASN MMDB (GeoLite2-ASN)")
    run.add_argument("--self-cc", type=_cc, metavar="CC",
                     help="this vantage point's country, as you know it")
    run.add_argument("--self-asn", type=_asn, metavar="ASN",
                     help="this vantage point's AS number, as you know it")
    run.add_argument("--resolver", type=_resolver, default="1.1.1.1:53", metavar="ADDR:PORT",
                     help="the configurable DNS resolver, UDP (default 1.1.1.1:53; 'none' "
                          "for the system resolver only)")
    run.add_argument("--no-system-resolver", action="store_true",
                     help="resolve only through --resolver (here and at the control)")
    run.add_argument("--ca-file", type=_file, metavar="PEM",
                     help="extra trusted CA certificates (tests, private CAs)")
    run.add_argument("--fingerprints", type=_file, action="append", default=[],
                     metavar="FILE", help="extra block-page fingerprint file (YAML); repeatable")
    run.add_argument("--max-body", type=_positive_int, default=m.DEFAULT_MAX_BODY,
                     metavar="BYTES", help="body cap per response (default 1 MiB)")
    run.add_argument("--sign-key", type=_file, metavar="KEY",
                     help="Ed25519 private key (sentinelle evidence keygen) to sign the bundle")
    run.add_argument("--bundle", type=Path, metavar="FILE.zip",
                     help="write an evidence bundle (measurements, transcripts, manifest)")
    run.add_argument("--no-h2", action="store_true",
                     help="offer only HTTP/1.1 in TLS (ALPN); by default h2 is offered first, "
                          "as browsers do (the control helper is told to fetch the same way)")
    run.add_argument("--browser-headers", action="store_true",
                     help="send Chrome's request headers, in Chrome's order (sec-ch-ua..., "
                          "sec-fetch-*), instead of the bare default set; the control helper "
                          "sends the same set")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")

    helper = sub.add_parser("helper", help="run the control helper (the other vantage point)",
                            description="Serve measurements to probes: POST /v1/measure, GET "
                                        "/v1/identity, bearer token required.",
                            epilog=HELPER_EXAMPLE,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    helper.add_argument("--listen", type=_listen, metavar="ADDR:PORT",
                        help="address and port to serve on, e.g. 0.0.0.0:8443 (required "
                             "unless --print-pin)")
    helper.add_argument("--tls-cert", metavar="PEM",
                        help="serve HTTPS with this certificate (chain: the server's first, "
                             "e.g. Let's Encrypt's fullchain.pem); needs --tls-key")
    helper.add_argument("--tls-key", metavar="PEM",
                        help="the certificate's private key (PEM, unencrypted)")
    helper.add_argument("--print-pin", action="store_true",
                        help="print the public-key pin of --tls-cert (for the probe's "
                             "--control-pin) and exit")
    helper.add_argument("--bind", type=_ip, metavar="ADDR",
                        help="source address of the helper's own measurements")
    helper.add_argument("--token", metavar="T", default=os.environ.get("SENTINELLE_HELPER_TOKEN"),
                        help="bearer token probes must send (default: $SENTINELLE_HELPER_TOKEN)")
    helper.add_argument("--allow-private", action="store_true",
                        help="allow loopback/private/link-local targets (test farms only)")
    helper.add_argument("--allow-net", action="append", default=[], metavar="CIDR",
                        help="allow targets in this network although not public; repeatable")
    helper.add_argument("--rate", type=_rate, default=600.0, metavar="N/min",
                        help="requests a minute per client address, an IPv6 client counted "
                             "by its /64 (default 600/min)")
    helper.add_argument("--max-body", type=_positive_int, default=m.DEFAULT_MAX_BODY,
                        metavar="BYTES", help="body cap per response (default 1 MiB)")
    helper.add_argument("--timeout", type=_positive_float, default=10.0, metavar="S",
                        help="timeout of each phase: TCP, TLS, HTTP (default 10)")
    helper.add_argument("--resolver", type=_resolver, default="1.1.1.1:53", metavar="ADDR:PORT",
                        help="resolver used when the probe names none (default 1.1.1.1:53)")
    helper.add_argument("--ca-file", type=_file, metavar="PEM",
                        help="extra trusted CA certificates (tests, private CAs)")
    helper.add_argument("--geoip-db", type=_file, metavar="PATH",
                        help="country MMDB, to record the helper's own country")
    helper.add_argument("--asn-db", type=_file, metavar="PATH",
                        help="ASN MMDB, to record the helper's own AS")
    helper.add_argument("--self-cc", type=_cc, metavar="CC",
                        help="the helper's country, as you know it")
    helper.add_argument("--self-asn", type=_asn, metavar="ASN",
                        help="the helper's AS number, as you know it")
    helper.add_argument("--max-concurrent", type=_positive_int, default=32, metavar="N",
                        help="measurements running at once (default 32)")
    from sentinelle.observatory.access.campaign import command as campaign_command

    campaign_command.add_parser(sub)
    # Listed so that `sentinelle probe --help` shows it; `sentinelle.cli` sends it to Django.
    sub.add_parser("submit", help="file a signed bundle as a draft report of your State (on the "
                                  "platform): sentinelle probe submit BUNDLE --user NAME",
                   add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except _BadOptions as exc:
        print(exc, file=sys.stderr)
        return 2
    except SystemExit as exc:          # --help
        return int(exc.code or 0)
    if args.command == "run":
        return _run(args, argv)
    if args.command == "campaign":
        from sentinelle.observatory.access.campaign import command as campaign_command

        return campaign_command.run(args)
    if args.command == "helper" and args.print_pin:
        return _print_pin(args)
    if args.command == "submit":
        return _fail("submit files a report on the platform: run it as "
                     "`sentinelle probe submit BUNDLE --user NAME`")
    return _helper(args)


def cleartext_warning(url: str, option: str, secret: str) -> str | None:
    """A warning when ``url`` is plain HTTP to a host that is not this machine: ``secret``
    (a bearer token) would cross the network in clear, readable and replayable by anyone on
    the path — the censor included."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "http" or not parts.hostname:
        return None
    host = parts.hostname
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        if host.lower() == "localhost":
            return None
    return (f"{option} {url} is plain HTTP: {secret} crosses the network in clear. Serve the "
            "helper with --tls-cert/--tls-key and pin it (docs/observatory.md).")


def _fail(message: str) -> int:
    print(f"sentinelle probe: error: {message}", file=sys.stderr)
    return 2


def _run(args: argparse.Namespace, argv: list[str] | None) -> int:
    from sentinelle.observatory.access import runner
    from sentinelle.observatory.access.helper import ControlError, PinMismatch
    from sentinelle.observatory.access.targets import TargetListError, read_list

    if not args.control_token:
        return _fail("--control-token is required (or set SENTINELLE_CONTROL_TOKEN)")
    if args.no_system_resolver and not args.resolver:
        return _fail("--no-system-resolver needs a --resolver")
    if args.control_pin and not args.control.lower().startswith("https://"):
        return _fail(f"--control-pin needs an https:// control URL; {args.control} is plain "
                     "HTTP, which a pin cannot protect")
    warning = cleartext_warning(args.control, "--control", "the control token")
    if warning:
        print(f"sentinelle probe: warning: {warning}", file=sys.stderr)
    try:
        targets = read_list(args.list)
    except TargetListError as exc:
        return _fail(f"--list: {exc}")
    for problem in targets.problems:
        print(f"{args.list}: {problem} (skipped)", file=sys.stderr)
    if not targets.targets:
        return _fail(f"--list: {args.list} has no usable URL")
    options = runner.RunOptions(
        list_path=args.list, control_url=args.control, control_token=args.control_token,
        output=args.output, bind=args.bind, concurrency=args.concurrency,
        per_host=args.per_host, timeout=args.timeout, geoip_db=args.geoip_db,
        asn_db=args.asn_db, self_cc=args.self_cc, self_asn=args.self_asn,
        resolver=args.resolver, system_resolver=not args.no_system_resolver,
        ca_file=args.ca_file, fingerprints=args.fingerprints, max_body=args.max_body,
        sign_key=args.sign_key, bundle=args.bundle, progress=not args.no_progress,
        control_pins=args.control_pin, http2=not args.no_h2,
        browser_headers=args.browser_headers,
        command_line=["sentinelle", "probe", *(sys.argv[1:] if argv is None else argv)])
    try:
        result = runner.run(options, targets)
    except KeyboardInterrupt:
        # Lines are flushed as URLs complete: what was measured is kept; no bundle.
        print(f"interrupted; measurements so far are in {args.output}", file=sys.stderr)
        return 130
    except PinMismatch as exc:
        # Not a bad option: the helper (or whoever answers in its place) has another key.
        print(f"sentinelle probe: error: {exc}", file=sys.stderr)
        return 1
    except (ValueError, ControlError) as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"{exc.filename or ''} {exc.strerror or exc}".strip())
    counts = ", ".join(f"{v} {n}" for v, n in result.verdicts.most_common())
    # stdlib gettext: the probe runs without Django (and so without its catalogues)
    print(ngettext("%(count)d URL", "%(count)d URLs", result.count) % {"count": result.count}
          + f" in {result.elapsed:.1f} s: {counts}", file=sys.stderr)
    if result.control_failure:
        print(f"control: {result.control_failure}", file=sys.stderr)
    if result.problems:
        skipped = len(result.problems)
        print(ngettext("%(count)d list line skipped", "%(count)d list lines skipped", skipped)
              % {"count": skipped}, file=sys.stderr)
    print(f"measurements: {result.output}", file=sys.stderr)
    if result.bundle:
        print(f"evidence bundle: {result.bundle}", file=sys.stderr)
    return 0


def _print_pin(args: argparse.Namespace) -> int:
    from sentinelle.observatory.access import tls_pin

    if not args.tls_cert:
        return _fail("--print-pin needs --tls-cert")
    try:
        pin = tls_pin.cert_pin(args.tls_cert)
        if args.tls_key:                # both given: check them as a start would
            tls_pin.server_context(args.tls_cert, args.tls_key)
    except tls_pin.TLSFileError as exc:
        return _fail(str(exc))
    print(pin)
    return 0


def _helper(args: argparse.Namespace) -> int:
    from sentinelle.observatory.access import helper, vantage
    from sentinelle.observatory.access.tls_pin import TLSFileError

    if args.listen is None:
        return _fail("the following arguments are required: --listen")
    if not args.token:
        return _fail("--token is required (or set SENTINELLE_HELPER_TOKEN)")
    if len(args.token) < 8:
        return _fail("--token must be at least 8 characters")
    try:
        nets = tuple(ipaddress.ip_network(n, strict=False) for n in args.allow_net)
    except ValueError as exc:
        return _fail(f"--allow-net: {exc}")
    ip = args.bind or (args.listen[0] if args.listen[0] not in ("0.0.0.0", "::") else None)  # noqa: S104
    try:
        record = vantage.identify(ip, args.self_cc, args.self_asn, args.geoip_db, args.asn_db)
        geodb = (vantage.GeoDB(args.geoip_db, args.asn_db)
                 if args.geoip_db or args.asn_db else None)
    except ValueError as exc:
        return _fail(str(exc))

    def lookup(address: str) -> tuple[int | None, str | None]:
        facts = geodb.lookup(address) if geodb else {}
        return facts.get("asn"), facts.get("as_org")

    config = helper.HelperConfig(
        listen=args.listen, token=args.token, bind=args.bind, allow_private=args.allow_private,
        allow_nets=nets, rate_per_minute=args.rate, max_body=args.max_body,
        timeout=args.timeout, resolver=m.parse_resolver(args.resolver) if args.resolver else None,
        ca_file=str(args.ca_file) if args.ca_file else None,
        max_concurrent=args.max_concurrent, vantage=record,
        asn_lookup=lookup if geodb else None, tls_cert=args.tls_cert, tls_key=args.tls_key)

    async def serve(server: helper.HelperServer) -> None:
        host, port = await server.start()
        print(f"control helper listening on {'https' if server.tls else 'http'}://{host}:{port}"
              + (" (private targets allowed)" if args.allow_private else ""),
              file=sys.stderr, flush=True)
        await server.serve_forever()

    try:
        server = helper.HelperServer(config)      # checks the certificate and key
    except TLSFileError as exc:
        if geodb is not None:
            geodb.close()
        return _fail(str(exc))
    try:
        asyncio.run(serve(server))
    except KeyboardInterrupt:
        return 0
    except OSError as exc:
        return _fail(f"cannot listen on {args.listen[0]}:{args.listen[1]}: {exc.strerror or exc}")
    finally:
        if geodb is not None:
            geodb.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
