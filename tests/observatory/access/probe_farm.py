"""A local test farm for the access probe: real servers on loopback that treat clients by where
they come from, as CDNs do.

- a GeoIP database (MMDB, built with mmdb-writer) places 127.0.0.2 in Cuba (AS27725) and
  127.0.0.3 in Switzerland (AS3303); the farm's servers (127.0.0.1) are AS64500;
- HTTPS and HTTP servers (certificate from a trustme CA) answer by the *source address* of the
  client and by virtual host (Host header / SNI): Cloudflare's 1009 page, CloudFront's country
  block, a bare 403, a 451, a page altered in transit, or the real site; bot challenges of
  Cloudflare, Akamai, DataDome, HUMAN/PerimeterX, Imperva/Incapsula and AWS WAF for Cuba (and
  Cloudflare's for everyone at challengeall.farm.test);
- special servers on their own ports: one that resets (SO_LINGER 0) the TLS handshake of Cuban
  clients, one that stalls them, one whose kernel socket filter (classic BPF) drops their SYNs,
  one that shows them an interception certificate, one that sends an endless body;
- a DNS server (dnslib) that lies to Cuban clients for some names (10.10.34.35, a block page
  address, NXDOMAIN) and is truthful for the others.

The probe binds 127.0.0.2, the control helper 127.0.0.3. Names resolve only through the farm's
DNS (the configurable resolver); ``localhost`` URLs exercise the system resolver.

Used as pytest fixtures (tests/observatory/access/test_probe_*.py) and as a process by
bench/probe/run.py:
``python tests/observatory/access/probe_farm.py --latency 0.05:0.2 --state state.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import random
import signal
import socket
import ssl
import struct
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROBE_IP = "127.0.0.2"       # Cuba
CONTROL_IP = "127.0.0.3"     # Switzerland
SERVER_IP = "127.0.0.1"
BLOCKPAGE_IP = "127.0.0.5"   # a Cuban ISP's block page server
LIE_IP = "10.10.34.35"       # the address Iran's resolvers answer for blocked names
TOKEN = "farm-control-token-0123456789"

GEO = {
    "127.0.0.1/32": ("US", 64500, "Farm Hosting Inc."),
    "127.0.0.2/32": ("CU", 27725, "Empresa de Telecomunicaciones de Cuba, S.A."),
    "127.0.0.3/32": ("CH", 3303, "Swisscom (Schweiz) AG"),
    "127.0.0.5/32": ("CU", 27725, "Empresa de Telecomunicaciones de Cuba, S.A."),
}


@dataclass(frozen=True)
class Scenario:
    name: str
    template: str            # {https} {http} {reset} {stall} {drop} {endless} ports
    expected: str            # the verdict the probe must reach
    provider: str | None = None


SCENARIOS = [
    Scenario("accessible-https", "https://www.farm.test:{https}/", "accessible"),
    Scenario("accessible-system-dns", "http://localhost:{http}/", "accessible"),
    Scenario("cloudflare-1009-https", "https://cf.farm.test:{https}/", "geoblocked",
             "Cloudflare"),
    Scenario("cloudfront-https", "https://cloudfront.farm.test:{https}/", "geoblocked",
             "Amazon CloudFront"),
    Scenario("server-403-https", "https://denied.farm.test:{https}/", "server-denied"),
    Scenario("http-451", "http://legal.farm.test:{http}/", "server-denied"),
    Scenario("dns-lie", "http://lied.farm.test:{http}/", "dns-tampering"),
    Scenario("dns-blockpage", "http://blockpage.farm.test:{http}/", "dns-tampering"),
    Scenario("dns-nxdomain", "http://gone.farm.test:{http}/", "dns-tampering"),
    Scenario("tcp-drop", "https://dropped.farm.test:{drop}/", "tcp-blocked"),
    Scenario("tls-reset", "https://reset.farm.test:{reset}/", "tls-interference"),
    Scenario("tls-mitm", "https://mitm.farm.test:{mitm}/", "tls-interference"),
    Scenario("http-stall", "http://stall.farm.test:{stall}/", "http-diff"),
    Scenario("http-diff", "http://diff.farm.test:{http}/", "http-diff"),
    Scenario("redirect-chain", "https://redir.farm.test:{https}/chain/3", "accessible"),
    Scenario("endless-body", "http://endless.farm.test:{endless}/", "accessible"),
    # Bot challenges shown to Cuba only, and one shown to everyone: "challenged", not a block.
    Scenario("challenge-cloudflare", "https://cfchallenge.farm.test:{https}/", "challenged",
             "Cloudflare"),
    Scenario("challenge-akamai", "https://akamaibot.farm.test:{https}/", "challenged", "Akamai"),
    Scenario("challenge-datadome", "https://datadome.farm.test:{https}/", "challenged",
             "DataDome"),
    Scenario("challenge-perimeterx", "https://perimeterx.farm.test:{https}/", "challenged",
             "HUMAN (PerimeterX)"),
    Scenario("challenge-incapsula", "http://incapsula.farm.test:{http}/", "challenged",
             "Imperva (Incapsula)"),
    Scenario("challenge-imperva", "https://imperva.farm.test:{https}/", "challenged", "Imperva"),
    Scenario("challenge-aws-waf", "https://awswaf.farm.test:{https}/", "challenged", "AWS WAF"),
    Scenario("challenge-everyone", "https://challengeall.farm.test:{https}/", "challenged",
             "Cloudflare"),
    # Fetching as a browser does (issue 15, point 3; tests/observatory/access/probe_farm_h2.py): a
    # block served over HTTP/2 only, a cookie set on a redirect, a compressed page, a block of
    # browser-like requests only (the default header set is bare, so: accessible).
    Scenario("h2-only-geoblock", "https://h2geo.farm.test:{h2}/", "geoblocked", "Cloudflare"),
    Scenario("cookie-redirect", "https://cookie.farm.test:{h2}/", "accessible"),
    Scenario("brotli-page", "https://gzip.farm.test:{h2}/br", "accessible"),
    Scenario("browser-only-block", "https://browseronly.farm.test:{h2}/", "accessible"),
]


# ---- pages ----------------------------------------------------------------------------------

def site_page(host: str, words: int = 400) -> bytes:
    title = f"{host.split('.')[0].capitalize()} Daily - independent news and services"
    rng = random.Random(host)
    vocabulary = ("economy", "health", "weather", "culture", "sport", "science", "markets",
                  "travel", "education", "technology", "opinion", "letters", "archive")
    text = " ".join(rng.choice(vocabulary) for _ in range(words))
    return (f"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{title}</title></head>\n<body><header><h1>{title}</h1></header>\n"
            f"<main><p>{text}</p></main>\n<footer>&copy; 2026 {host}</footer></body></html>\n"
            ).encode()


def cloudflare_1009(host: str, cc: str, ray: str) -> bytes:
    # Shape and wording of Cloudflare's 1009 page (DOMAIN-NOTES, "Denial of access").
    return f"""<!DOCTYPE html>
<!--[if lt IE 7]> <html class="no-js ie6 oldie" lang="en-US"> <![endif]-->
<!--[if gt IE 8]><!--> <html class="no-js" lang="en-US"> <!--<![endif]-->
<head>
<title>Access denied | {host} used Cloudflare to restrict access</title>
<meta charset="UTF-8" />
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
<meta http-equiv="X-UA-Compatible" content="IE=Edge" />
<meta name="robots" content="noindex, nofollow" />
<meta name="viewport" content="width=device-width,initial-scale=1" />
<link rel="stylesheet" id="cf_styles-css" href="/cdn-cgi/styles/main.css" />
</head>
<body>
<div id="cf-wrapper">
  <div id="cf-error-details" class="p-0">
    <header class="mx-auto pt-10 lg:pt-6 lg:px-8 w-240 lg:w-full mb-15 antialiased">
      <h1 class="inline-block md:block mr-2 md:mb-2 font-light text-60 md:text-3xl text-black-dark leading-tight">
        <span data-translate="error">Error</span>
        <span>1009</span>
      </h1>
      <span class="inline-block md:block heading-ray-id font-mono text-15 lg:text-sm lg:leading-relaxed">Ray ID: {ray} &bull;</span>
      <h2 class="text-gray-600 leading-1.3 text-3xl lg:text-2xl font-light">Access denied</h2>
    </header>
    <section class="w-240 lg:w-full mx-auto mb-8 lg:px-8">
      <div id="what-happened-section" class="w-1/2 md:w-full">
        <h2 class="text-3xl leading-tight font-normal mb-4 text-black-dark antialiased" data-translate="what_happened">What happened?</h2>
        <p>The owner of this website ({host}) has banned the country or region your IP address is in ({cc}) from accessing this website.</p>
      </div>
    </section>
    <div class="cf-error-footer cf-wrapper w-240 lg:w-full py-10 sm:py-4 sm:px-8 mx-auto text-center sm:text-left border-solid border-0 border-t border-gray-300">
      <p class="text-13">
        <span class="cf-footer-item sm:block sm:mb-1">Cloudflare Ray ID: <strong class="font-semibold">{ray}</strong></span>
        <span class="cf-footer-separator sm:hidden">&bull;</span>
        <span class="cf-footer-item sm:block sm:mb-1"><span>Performance &amp; security by</span> <a rel="noopener noreferrer" href="https://www.cloudflare.com/5xx-error-landing" id="brand_link" target="_blank">Cloudflare</a></span>
      </p>
    </div>
  </div>
</div>
</body>
</html>
""".encode()  # noqa: E501 - the page as Cloudflare serves it


def cloudfront_block(request_id: str) -> bytes:
    return f"""<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN" "http://www.w3.org/TR/html4/loose.dtd">
<HTML><HEAD><META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=iso-8859-1">
<TITLE>ERROR: The request could not be satisfied</TITLE>
</HEAD><BODY>
<H1>403 ERROR</H1>
<H2>The request could not be satisfied.</H2>
<HR noshade size="1px">
The Amazon CloudFront distribution is configured to block access from your country.
We can't connect to the server for this app or website at this time. There might be too much traffic or a configuration error. Try again later, or contact the app or website owner.
<BR clear="all">
If you provide content to customers through CloudFront, you can find steps to troubleshoot and help prevent this error by reviewing the CloudFront documentation.
<BR clear="all">
<HR noshade size="1px">
<PRE>
Generated by cloudfront (CloudFront)
Request ID: {request_id}
</PRE>
<ADDRESS>
</ADDRESS>
</BODY></HTML>""".encode()  # noqa: E501 - as CloudFront serves it


NGINX_403 = (b"<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n<center><h1>403 "
             b"Forbidden</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
LEGAL_451 = (b"<html><head><title>451 Unavailable For Legal Reasons</title></head><body>"
             b"<h1>Unavailable For Legal Reasons</h1><p>This resource cannot be served to "
             b"you.</p></body></html>\n")
BLOCK_PAGE = (b"<html><head><title>Sitio bloqueado</title></head><body><h1>Acceso denegado</h1>"
              b"<p>Este sitio ha sido bloqueado por disposicion de las autoridades.</p>"
              b"</body></html>\n")
MAINTENANCE = (b"<html><head><title>Mantenimiento</title></head><body><p>Servicio no "
               b"disponible temporalmente.</p></body></html>\n")


# Bot challenges (issue 15, point 4): the shape and markers of each product's challenge page, as
# data/fingerprints.yaml documents them (ids and tokens are made up). Not blocks: a browser
# passes them, and the probe must say "challenged", never "geoblocked".
CF_CHALLENGE_HEADERS = [["Server", "cloudflare"], ["CF-RAY", "8f3a1c2b4d5e6f70-HAV"],
                        ["cf-mitigated", "challenge"],
                        ["Content-Type", "text/html; charset=UTF-8"]]
CF_CHALLENGE = """<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8">
<meta name="robots" content="noindex,nofollow"></head><body>
<div class="main-wrapper" role="main"><div class="main-content">
<noscript><div class="h2"><span id="challenge-error-text">Enable JavaScript and cookies to
continue</span></div></noscript></div></div>
<script>(function(){window._cf_chl_opt={cvId: '3',cZone: "www.example.com",cType: 'managed',
cRay: '8f3a1c2b4d5e6f70',cH: 'x',cUPMDTk: "/?__cf_chl_tk=abc"};var cpo=document.createElement(
'script');cpo.src='/cdn-cgi/challenge-platform/h/g/orchestrate/chl_page/v1?ray=8f3a1c2b4d5e6f70';
document.getElementsByTagName('head')[0].appendChild(cpo);}());</script></body></html>"""
# The legacy "I'm Under Attack" page (503, before cf-mitigated existed).
CF_IUAM = """<!DOCTYPE HTML><html lang="en-US"><head><title>Just a moment...</title></head>
<body><div class="cf-browser-verification cf-im-under-attack"><noscript><h1>Please turn
JavaScript on and reload the page.</h1></noscript><h1>Checking your browser before accessing
www.example.com.</h1></div><form id="challenge-form" action="/?__cf_chl_jschl_tk__=x"
method="POST"><input type="hidden" name="jschl_vc" value="1"/><input type="hidden"
name="jschl_answer" value=""/></form></body></html>"""
# Cloudflare's JavaScript Detections inject this script into ordinary pages: not a challenge.
JSD = '<script src="/cdn-cgi/challenge-platform/scripts/jsd/main.js"></script>'
AKAMAI_CHALLENGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>Challenge Validation</title>
<script src="/_sec/cp_challenge/ak-challenge-4-3.js"></script></head><body>
<div id="sec-if-cpt-container" class="cpt-container"><div id="sec-text-container">
<p>Verifying your browser. This will take a few seconds.</p></div>
<iframe id="sec-cpt-if" class="crypto" data-duration="5"
src="/_sec/cp_challenge/ak-challenge-4-3.htm"></iframe></div></body></html>"""
DATADOME = """<html lang="en"><head><title>example.com</title><style>#cmsg{animation: A 1.5s;}
</style></head><body style="margin:0"><p id="cmsg">Please enable JS and disable any ad blocker
</p><script data-cfasync="false">var dd={'rt':'c','cid':'AHrlqAAAAAMAExampleCid==',
'hsh':'4980A61279181687DE605B235F81B9','t':'fe','s':2906,'e':'abc',
'host':'geo.captcha-delivery.com'}</script>
<script data-cfasync="false" src="https://ct.captcha-delivery.com/c.js"></script></body></html>"""
DATADOME_HEADERS = [["Server", "nginx"], ["X-DataDome", "protected"], ["X-DD-B", "1"],
                    ["Set-Cookie", "datadome=abc; Max-Age=31536000; Path=/; Secure"]]
PERIMETERX = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>Access to this page has been denied</title></head><body>
<div class="px-captcha-container"><div class="px-captcha-header">Before we continue...</div>
<div class="px-captcha-message">Press &amp; Hold to confirm you are<br>a human (and not a bot).
</div><div id="px-captcha"></div></div>
<script>window._pxAppId = 'PXabcdef12';window._pxJsClientSrc = '/abcdef12/init.js';
window._pxFirstPartyEnabled = true;</script>
<script src="/abcdef12/captcha/captcha.js?a=c&u=1&m=0"></script></body></html>"""
INCAPSULA = """<html style="height:100%"><head><META NAME="ROBOTS" CONTENT="NOINDEX, NOFOLLOW">
<meta name="viewport" content="initial-scale=1.0"></head><body style="margin:0px;height:100%">
<iframe id="main-iframe" src="/_Incapsula_Resource?SWUDNSAI=31&xinfo=8-1234-0%20&incident_id=
0-123456789&edet=15&cinfo=04000000&pe=631&rpinfo=0&mth=GET" frameborder=0 width="100%"
height="100%">Please complete the security check to access www.example.com: solve the CAPTCHA
below.</iframe></body></html>"""
INCAPSULA_BLOCK = """<html style="height:100%"><head><META NAME="ROBOTS" CONTENT="NOINDEX,
NOFOLLOW"></head><body style="margin:0px;height:100%"><iframe id="main-iframe"
src="/_Incapsula_Resource?CWUDNSAI=9&xinfo=1-2-0&incident_id=0-987654321&edet=12&cinfo=4"
frameborder=0 width="100%" height="100%">Request unsuccessful. Incapsula incident ID:
0-987654321 (the CAPTCHA is not offered: this request is blocked)</iframe></body></html>"""
IMPERVA_ABP = """<!DOCTYPE html><html lang="en"><head><title>Pardon Our Interruption</title>
<link href="/styles/challenge/1.0/challenge.css" rel="stylesheet" type="text/css"></head>
<body class="minimal"><h1>Pardon Our Interruption<span>...</span></h1><p>As you were browsing
www.example.com something about your browser made us think you were a bot. There are a few
reasons this might happen:</p></body></html>"""
AWS_WAF = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title></title><script type="text/javascript">window.awsWafCookieDomainList = [];
window.gokuProps = {"key":"AQIDAHjc","iv":"CgAHeT","context":"x"};</script>
<script src="https://ab12cd34.edge.sdk.awswaf.com/ab12cd34/challenge.js"></script></head>
<body><div id="challenge-container"></div><noscript><h1>JavaScript is disabled</h1>In order to
continue, we need to verify that you're not a robot.</noscript></body></html>"""

# host -> (status, reason, headers, body) of the challenge served to Cuba (everyone for the last)
CHALLENGE_PAGES: dict[str, tuple[int, str, list[list[str]], str]] = {
    "cfchallenge.farm.test": (403, "Forbidden", CF_CHALLENGE_HEADERS, CF_CHALLENGE),
    "akamaibot.farm.test": (428, "Precondition Required", [["Server", "AkamaiGHost"]],
                            AKAMAI_CHALLENGE),
    "datadome.farm.test": (403, "Forbidden", DATADOME_HEADERS, DATADOME),
    "perimeterx.farm.test": (403, "Forbidden", [["Server", "nginx"]], PERIMETERX),
    "incapsula.farm.test": (200, "OK", [["X-CDN", "Imperva"]], INCAPSULA),
    "imperva.farm.test": (405, "Method Not Allowed", [["Server", "nginx"]], IMPERVA_ABP),
    "awswaf.farm.test": (202, "Accepted", [["x-amzn-waf-action", "challenge"],
                                          ["Server", "awselb/2.0"]], AWS_WAF),
    "challengeall.farm.test": (403, "Forbidden", CF_CHALLENGE_HEADERS, CF_CHALLENGE),
}


# ---- the farm -------------------------------------------------------------------------------

class LoopThread:
    """An asyncio loop in a daemon thread, for servers living beside synchronous tests."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self.thread.start()

    def call(self, coroutine, timeout: float = 30):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def build_mmdb(path: Path) -> Path:
    import mmdb_writer
    from netaddr import IPSet

    writer = mmdb_writer.MMDBWriter(ip_version=6, ipv4_compatible=True,
                                    database_type="Sentinelle-Farm-GeoIP",
                                    description="probe test farm")
    for network, (cc, asn, org) in GEO.items():
        writer.insert_network(IPSet([network]), {
            "country": {"iso_code": cc}, "autonomous_system_number": asn,
            "autonomous_system_organization": org})
    writer.to_db_file(str(path))
    return path


def _bpf_drop_from(sock: socket.socket, source: str) -> None:
    """Attach a classic BPF filter dropping every packet from ``source`` (its SYNs included):
    a server-side firewall that silently drops one country, so connects from it time out."""
    def ins(code: int, jt: int, jf: int, k: int) -> bytes:
        return struct.pack("HBBI", code, jt, jf, k & 0xFFFFFFFF)
    skf_net_off = -0x100000
    src = struct.unpack("!I", socket.inet_aton(source))[0]
    program = (ins(0x20, 0, 0, skf_net_off + 12)      # ld [ip src]
               + ins(0x15, 0, 1, src)                 # jeq source
               + ins(0x06, 0, 0, 0)                   # ret 0: drop
               + ins(0x06, 0, 0, 0xFFFFFFFF))         # ret all: keep
    buffer = ctypes.create_string_buffer(program)   # the kernel copies it on setsockopt
    sock.setsockopt(socket.SOL_SOCKET, 26, struct.pack("HL", 4, ctypes.addressof(buffer)))


class Farm:
    def __init__(self, workdir: Path, *, latency: tuple[float, float] | None = None) -> None:
        import maxminddb
        import trustme

        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.latency = latency
        self.ca = trustme.CA()
        self.ca_file = self.workdir / "farm-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        cert = self.ca.issue_cert("*.farm.test", "*.bench.test", "localhost", "127.0.0.1")
        self.server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(self.server_ctx)
        self.server_ctx.set_alpn_protocols(["http/1.1"])
        # An interception proxy's certificate: a CA the probe does not trust.
        self.mitm_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        trustme.CA(organization_name="Intercepting Proxy").issue_cert(
            "*.farm.test").configure_cert(self.mitm_ctx)
        self.mmdb = build_mmdb(self.workdir / "farm-geo.mmdb")
        self.geo = maxminddb.open_database(str(self.mmdb))
        self.ports: dict[str, int] = {}
        self.servers: list[asyncio.base_events.Server] = []
        self.dns_server: Any = None
        self.thread: LoopThread | None = None
        self.requests = 0

    # -- geography

    def country(self, ip: str) -> str | None:
        record = self.geo.get(ip)
        return (record or {}).get("country", {}).get("iso_code")

    # -- lifecycle

    def start(self) -> Farm:
        self.thread = LoopThread("probe-farm")
        self.thread.call(self._start_servers())
        self._start_dns()
        return self

    def stop(self) -> None:
        if self.dns_server is not None:
            self.dns_server.stop()
        if self.thread is not None:
            self.thread.call(self._stop_servers())
            self.thread.stop()
        self.geo.close()

    def __enter__(self) -> Farm:
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()

    def url(self, scenario: Scenario | str) -> str:
        if isinstance(scenario, str):
            scenario = next(s for s in SCENARIOS if s.name == scenario)
        return scenario.template.format(**self.ports)

    @property
    def resolver(self) -> str:
        return f"{SERVER_IP}:{self.ports['dns']}"

    def state(self) -> dict[str, Any]:
        return {"ports": self.ports, "ca_file": str(self.ca_file), "mmdb": str(self.mmdb),
                "resolver": self.resolver,
                "scenarios": [{"name": s.name, "url": self.url(s), "expected": s.expected,
                               "provider": s.provider} for s in SCENARIOS]}

    async def _listen(self, name: str, handler: Callable, host: str = SERVER_IP,
                      port: int = 0, sock: socket.socket | None = None, tls: bool = False,
                      pausing: bool = False) -> int:
        if pausing:
            loop = asyncio.get_running_loop()
            server = await loop.create_server(
                lambda: _PausingProtocol(asyncio.StreamReader(limit=65536), handler),
                host, port, backlog=512)
        else:
            where = {"sock": sock} if sock is not None else {"host": host, "port": port}
            server = await asyncio.start_server(
                handler, **where, backlog=512, ssl=self.server_ctx if tls else None,
                ssl_handshake_timeout=10 if tls else None)
        self.servers.append(server)
        bound = server.sockets[0].getsockname()[1]
        if name:
            self.ports[name] = bound
        return bound

    async def _start_servers(self) -> None:
        self.ports["https"] = await self._listen("https", self._conn(), tls=True)
        self.ports["http"] = await self._listen("http", self._conn(tls=False))
        # The Cuban block page server answers on the same port as the real one, at another
        # address: the lying resolver only has to change the address.
        await self._listen("", self._conn(tls=False, blockpage=True), BLOCKPAGE_IP,
                           self.ports["http"])
        self.ports["reset"] = await self._listen("reset", self._conn(tls=True, cu="reset"),
                                                 pausing=True)
        self.ports["mitm"] = await self._listen("mitm", self._conn(tls=True, cu="mitm"),
                                                pausing=True)
        self.ports["stall"] = await self._listen("stall", self._conn(tls=False, cu="stall"))
        self.ports["endless"] = await self._listen("endless", self._conn(tls=False,
                                                                          endless=True))
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((SERVER_IP, 0))
        _bpf_drop_from(sock, PROBE_IP)
        sock.listen(512)
        sock.setblocking(False)
        self.ports["drop"] = await self._listen("drop", self._conn(), sock=sock, tls=True)
        from tests.observatory.access.probe_farm_h2 import H2Site
        self.h2 = H2Site(self)
        self.ports["h2"] = await self.h2.start()

    async def _stop_servers(self) -> None:
        for server in self.servers:
            server.close()
        # Stalled handlers sleep for an hour: end them so the loop stops clean.
        current = asyncio.current_task()
        pending = [t for t in asyncio.all_tasks() if t is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for server in self.servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2)

    # -- HTTP(S)

    def _conn(self, *, tls: bool = False, cu: str = "serve", blockpage: bool = False,
              endless: bool = False) -> Callable:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await self._serve(reader, writer, tls=tls, cu=cu, blockpage=blockpage,
                                  endless=endless)
            except (OSError, asyncio.IncompleteReadError, ssl.SSLError, TimeoutError,
                    asyncio.LimitOverrunError, ValueError, asyncio.CancelledError):
                pass
            finally:
                with contextlib.suppress(Exception):
                    writer.close()
        return handle

    async def _serve(self, reader, writer, *, tls, cu, blockpage, endless) -> None:
        peer = writer.get_extra_info("peername")[0]
        cc = self.country(peer)
        if cc == "CU" and cu == "reset":
            # Like a middlebox that reads the ClientHello's SNI and injects a RST.
            writer.transport.resume_reading()
            await asyncio.wait_for(reader.read(2048), 5)
            writer.get_extra_info("socket").setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return
        if tls:
            # Reading was paused from the first byte (_PausingProtocol), so the ClientHello
            # reaches the TLS layer, not the plain stream buffer.
            context = self.mitm_ctx if cc == "CU" and cu == "mitm" else self.server_ctx
            await asyncio.wait_for(writer.start_tls(context), 10)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        self.requests += 1
        if cc == "CU" and cu == "stall":
            await asyncio.sleep(3600)       # accepted, read, never answered
            return
        lines = head.decode("latin-1").split("\r\n")
        path = lines[0].split(" ")[1]
        headers = {k.strip().lower(): v.strip() for k, _, v in
                   (line.partition(":") for line in lines[1:] if line)}
        host = headers.get("host", "").rsplit(":", 1)[0].lower() if not headers.get(
            "host", "").startswith("[") else headers["host"]
        if self.latency:
            await asyncio.sleep(random.uniform(*self.latency))
        if endless:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                         b"Connection: close\r\n\r\n")
            block = b"x" * 65536
            for _ in range(4096):           # 256 MiB at most, in case nobody hangs up
                writer.write(block)
                await writer.drain()
            return
        status, reason, extra, body = (
            (200, "OK", [("Server", "nginx")], BLOCK_PAGE) if blockpage
            else self.page(host, path, cc))
        out = [f"HTTP/1.1 {status} {reason}", "Date: Sat, 28 Nov 2026 13:00:00 GMT",
               "Content-Type: text/html; charset=UTF-8", f"Content-Length: {len(body)}",
               "Connection: close", *(f"{k}: {v}" for k, v in extra)]
        writer.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()

    def page(self, host: str, path: str, cc: str | None
             ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        ray = f"{random.getrandbits(64):016x}-MIA"
        path = path.split("?", 1)[0]
        if host.endswith(".bench.test"):
            host = _bench_host(host)
        if host == "cf.farm.test":
            cf = [("Server", "cloudflare"), ("CF-RAY", ray), ("Vary", "Accept-Encoding")]
            if cc == "CU":
                return 403, "Forbidden", [*cf, ("X-Frame-Options", "SAMEORIGIN"),
                                          ("Referrer-Policy", "same-origin"),
                                          ("Cache-Control", "private, max-age=0, no-store, "
                                                            "no-cache, must-revalidate")], \
                    cloudflare_1009(host, cc, ray.split("-")[0])
            return 200, "OK", [*cf, ("CF-Cache-Status", "DYNAMIC")], site_page(host)
        if host == "cloudfront.farm.test":
            request_id = "1Ab2Cd3Ef4Gh5Ij6Kl7Mn8Op9Qr0St1Uv2Wx3Yz4Ab5Cd6Ef7Gh8A=="
            cfr = [("Server", "CloudFront"),
                   ("Via", "1.1 5f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c.cloudfront.net (CloudFront)"),
                   ("X-Amz-Cf-Pop", "MIA3-C1"), ("X-Amz-Cf-Id", request_id)]
            if cc == "CU":
                return 403, "Forbidden", [*cfr, ("X-Cache", "Error from cloudfront")], \
                    cloudfront_block(request_id)
            return 200, "OK", [*cfr, ("X-Cache", "Miss from cloudfront")], site_page(host)
        challenge = CHALLENGE_PAGES.get(host)
        if challenge is not None and (cc == "CU" or host == "challengeall.farm.test"):
            status, reason, headers, body = challenge
            return status, reason, [(k, v) for k, v in headers], body.encode()
        if host == "denied.farm.test" and cc == "CU":
            return 403, "Forbidden", [("Server", "nginx")], NGINX_403
        if host == "legal.farm.test" and cc == "CU":
            return 451, "Unavailable For Legal Reasons", [
                ("Server", "nginx"),
                ("Link", '<https://authority.example/orders/42>; rel="blocked-by"')], LEGAL_451
        if host == "diff.farm.test" and cc == "CU":
            return 200, "OK", [("Server", "nginx"), ("X-Filter", "proxy-7")], MAINTENANCE
        if host == "redir.farm.test":
            if path.startswith("/chain/"):
                left = int(path.rsplit("/", 1)[1] or 0)
                if left > 0:
                    return 302, "Found", [("Location", f"/chain/{left - 1}")], b""
            elif path == "/loop":
                return 302, "Found", [("Location", "/loop2")], b""
            elif path == "/loop2":
                return 302, "Found", [("Location", "/loop")], b""
            elif path.startswith("/private"):
                port = path.rsplit("/", 1)[-1]
                return 302, "Found", [("Location", f"http://127.0.0.4:{port}/")], b""
        return 200, "OK", [("Server", "nginx")], site_page(host)

    # -- DNS

    def dns_answer(self, name: str, cc: str | None) -> list[str] | None:
        """Addresses for ``name`` as told to a client in ``cc`` (None = NXDOMAIN)."""
        if cc == "CU":
            if name == "lied.farm.test":
                return [LIE_IP]
            if name == "blockpage.farm.test":
                return [BLOCKPAGE_IP]
            if name == "gone.farm.test":
                return None
        if name == "private.farm.test":
            return ["10.0.0.1"]
        if name == "localhost" or name.endswith(".farm.test") or name == "wrongname.example":
            return [SERVER_IP]
        if name.endswith(".bench.test"):
            lie = self.dns_answer(_bench_host(name), cc)
            return lie
        return None

    def _start_dns(self) -> None:
        from dnslib import QTYPE, RCODE, RR, A
        from dnslib.server import BaseResolver, DNSLogger, DNSServer

        farm = self

        class Resolver(BaseResolver):
            def resolve(self, request, handler):
                reply = request.reply()
                name = str(request.q.qname).rstrip(".").lower()
                answer = farm.dns_answer(name, farm.country(handler.client_address[0]))
                if answer is None:
                    reply.header.rcode = RCODE.NXDOMAIN
                elif request.q.qtype == QTYPE.A:
                    for ip in answer:
                        reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(ip), ttl=60))
                return reply

        self.dns_server = DNSServer(Resolver(), address=SERVER_IP, port=0,
                                    logger=DNSLogger(log="-recv,-send,-request,-reply,-truncated,"
                                                         "-data,-error", logf=lambda _s: None))
        self.ports["dns"] = self.dns_server.server.server_address[1]
        self.dns_server.start_thread()


class _PausingProtocol(asyncio.StreamReaderProtocol):
    """Reads nothing until the handler decides: TLS (start_tls resumes) or a reset."""

    def connection_made(self, transport) -> None:
        transport.pause_reading()
        super().connection_made(transport)


def _bench_host(host: str) -> str:
    """site-0042-cf.bench.test -> cf.farm.test: the bench spreads each scenario over many
    host names (the probe limits concurrency per host)."""
    label = host.split(".")[0]
    kind = label.split("-", 2)[2] if label.count("-") >= 2 else "www"
    return f"{kind}.farm.test"


# ---- control helper -------------------------------------------------------------------------

class ControlHelper:
    """The real helper server, bound to the Swiss address, on its own loop thread."""

    def __init__(self, farm: Farm | None, *, allow_private: bool = True, bind: str = CONTROL_IP,
                 rate: float = 100_000, token: str = TOKEN, allow_nets=(),
                 timeout: float = 2.0) -> None:
        from sentinelle.observatory.access import helper, vantage

        vantage_record = vantage.identify(bind, "CH", 3303, farm.mmdb if farm else None,
                                          farm.mmdb if farm else None)
        self.config = helper.HelperConfig(
            listen=(SERVER_IP, 0), token=token, bind=bind, allow_private=allow_private,
            allow_nets=tuple(allow_nets), rate_per_minute=rate, timeout=timeout,
            ca_file=str(farm.ca_file) if farm else None, vantage=vantage_record,
            max_body=256 * 1024)
        self.thread = LoopThread("control-helper")
        self.server = self.thread.call(self._make(helper))
        host, port = self.thread.call(self.server.start())
        self.url = f"http://{host}:{port}"

    async def _make(self, helper):
        return helper.HelperServer(self.config)

    def stop(self) -> None:
        self.thread.call(self.server.close())
        self.thread.stop()


# ---- for the test modules' fixtures --------------------------------------------------------

def running_farm(workdir: Path):
    """Generator for a module-scoped fixture: the farm, stopped afterwards."""
    with Farm(workdir) as running:
        yield running


def running_control(farm: Farm, **options):
    """Generator for a fixture: a control helper for ``farm``, stopped afterwards."""
    helper = ControlHelper(farm, **options)
    try:
        yield helper
    finally:
        helper.stop()


# ---- as a process (bench) -------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the probe test farm until interrupted.")
    parser.add_argument("--dir", type=Path, required=True, help="work directory (CA, MMDB)")
    parser.add_argument("--state", type=Path, required=True, help="write ports etc. here (JSON)")
    parser.add_argument("--latency", default="", help="MIN:MAX seconds added to each answer")
    args = parser.parse_args(argv)
    latency = tuple(float(x) for x in args.latency.split(":")) if args.latency else None
    # Installs the filter for asyncio's start_tls EOF warning (noise, see measure.py).
    import sentinelle.observatory.access.measure  # noqa: F401
    farm = Farm(args.dir, latency=latency).start()   # type: ignore[arg-type]
    args.state.write_text(json.dumps(farm.state(), indent=1))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    farm.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
