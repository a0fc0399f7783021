"""The probe's body decoding and cookie jar (issue 15, point 3), without a network: gzip,
deflate and br decoded with the output held to the cap (a 10 MB bomb stays bounded), a body that
does not decode is a named failure, and the cookie rules a redirect relies on (domain, path,
secure, expiry)."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib
from urllib.parse import urlsplit

import brotli
import pytest

from sentinelle.observatory.access.content import decode_body
from sentinelle.observatory.access.cookies import MAX_COOKIES, CookieJar
from sentinelle.observatory.access.failures import ContentDecodingError, failure_string
from sentinelle.observatory.access.http_client import BROWSER_HEADERS, request_headers

PAGE = b"<html><head><title>Daily</title></head><body>" + b"news " * 2000 + b"</body></html>"
CAP = 1024 * 1024


@pytest.mark.parametrize("coding, data", [
    ("gzip", gzip.compress(PAGE)),
    ("x-gzip", gzip.compress(PAGE)),
    ("deflate", zlib.compress(PAGE)),
    ("deflate", zlib.compress(PAGE)[2:-4]),            # raw deflate, as some servers send
    ("br", brotli.compress(PAGE)),
    ("GZIP", gzip.compress(PAGE)),
    ("identity", PAGE),
    ("gzip, br", brotli.compress(gzip.compress(PAGE))),   # applied in order, undone backwards
])
def test_each_coding_decodes(coding, data):
    decoded = decode_body(data, coding, CAP)
    assert decoded.body == PAGE and not decoded.truncated


def test_two_gzip_members_are_one_body():
    data = gzip.compress(PAGE[:100]) + gzip.compress(PAGE[100:])
    assert decode_body(data, "gzip", CAP).body == PAGE


@pytest.mark.parametrize("coding, compress", [
    ("gzip", lambda b: gzip.compress(b, 9)),
    ("deflate", lambda b: zlib.compress(b, 9)),
    ("br", lambda b: brotli.compress(b, quality=5)),
])
def test_a_decompression_bomb_stops_at_the_cap(coding, compress):
    bomb = compress(b"\0" * (10 * 1024 * 1024))
    assert len(bomb) < 64 * 1024
    tracemalloc.start()
    try:
        decoded = decode_body(bomb, coding, CAP)
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert decoded.truncated and len(decoded.body) == CAP
    assert peak < 4 * CAP          # the 10 MB never exist in memory


def test_a_stacked_bomb_stops_at_the_cap_too():
    inner = gzip.compress(b"\0" * (20 * 1024 * 1024), 9)
    decoded = decode_body(gzip.compress(inner), "gzip, gzip", CAP)
    assert decoded.truncated and len(decoded.body) == CAP


@pytest.mark.parametrize("coding, data, words", [
    ("gzip", b"\x1f\x8b\x08garbage" * 10, "gzip"),
    ("gzip", b"", "ends early"),
    ("br", b"\xff\xff\xff\xff not brotli", "br"),
    ("deflate", b"not deflate at all", "deflate"),
    ("compress", b"whatever", "unsupported content coding 'compress'"),
    ("zstd", b"whatever", "unsupported content coding 'zstd'"),
    ("gzip, gzip, gzip, gzip, gzip", b"x", "5 content codings"),
    ("gzip", gzip.compress(PAGE)[:-30], "ends early"),
    ("br", brotli.compress(PAGE)[:-5], "br"),
])
def test_bad_bodies_are_named_failures(coding, data, words):
    with pytest.raises(ContentDecodingError) as caught:
        decode_body(data, coding, CAP)
    assert words in str(caught.value)
    assert failure_string(caught.value).startswith("http_content_decoding_error: ")


def test_a_body_cut_at_the_cap_decodes_as_far_as_it_goes():
    data = gzip.compress(PAGE)[:-30]
    decoded = decode_body(data, "gzip", CAP, complete=False)
    assert PAGE.startswith(decoded.body) and len(decoded.body) > 1000


# ---- request headers ------------------------------------------------------------------------

def test_browser_headers_follow_chromes_order():
    names = [name.lower() for name, _ in request_headers(True)]
    assert names == ["sec-ch-ua", "sec-ch-ua-mobile", "sec-ch-ua-platform",
                     "upgrade-insecure-requests", "user-agent", "accept", "sec-fetch-site",
                     "sec-fetch-mode", "sec-fetch-user", "sec-fetch-dest", "accept-encoding",
                     "accept-language"]
    assert dict(BROWSER_HEADERS)["Accept-Encoding"] == "gzip, deflate, br"
    bare = dict(request_headers(False))
    assert bare["Accept-Encoding"] == "gzip, deflate, br"
    assert not any(name.lower().startswith("sec-") for name in bare)
    request_headers(True).append(("x", "y"))          # a copy: the set itself is untouched
    assert len(request_headers(True)) == 12


# ---- cookies ----------------------------------------------------------------------------------

def url(text: str):
    return urlsplit(text)


def test_a_cookie_set_on_a_redirect_goes_to_the_next_hop():
    jar = CookieJar()
    kept = jar.store(url("https://www.site.test/login"), [
        ("Set-Cookie", "session=abc; Path=/; Secure; HttpOnly"),
        ("Location", "/home")])
    assert kept == ["session"]
    assert jar.header(url("https://www.site.test/home")) == "session=abc"
    assert jar.header(url("http://www.site.test/home")) is None          # Secure: https only
    assert jar.header(url("https://other.site.test/home")) is None       # host-only


def test_domain_and_path_rules():
    jar = CookieJar()
    jar.store(url("https://www.site.test/a/b"), [
        ("set-cookie", "wide=1; Domain=.site.test; Path=/"),
        ("set-cookie", "deep=2; Path=/a"),
        ("set-cookie", "default=3"),                      # default path: /a
        ("set-cookie", "foreign=4; Domain=evil.test"),    # someone else's domain: refused
        ("set-cookie", "tld=5; Domain=test"),             # a top-level label: refused
    ])
    assert jar.header(url("https://cdn.site.test/")) == "wide=1"
    assert jar.header(url("https://www.site.test/a/c")) in ("deep=2; default=3; wide=1",
                                                             "default=3; deep=2; wide=1")
    assert jar.header(url("https://www.site.test/ab")) == "wide=1"     # /a is not /ab's prefix
    assert jar.header(url("https://evil.test/")) is None


def test_expiry_and_deletion():
    now = [1_800_000_000.0]
    jar = CookieJar(clock=lambda: now[0])
    target = url("https://site.test/")
    jar.store(target, [("Set-Cookie", "short=1; Max-Age=10"),
                       ("Set-Cookie", "long=2; Expires=Wed, 01 Jan 2100 00:00:00 GMT"),
                       ("Set-Cookie", "past=3; Expires=Thu, 01 Jan 1970 00:00:00 GMT"),
                       ("Set-Cookie", "both=4; Expires=Thu, 01 Jan 1970 00:00:00 GMT; "
                                      "Max-Age=100")])            # Max-Age wins
    assert jar.header(target) == "short=1; long=2; both=4"
    now[0] += 11
    assert jar.header(target) == "long=2; both=4"
    jar.store(target, [("Set-Cookie", "long=gone; Max-Age=0")])    # a deletion
    assert jar.header(target) == "both=4"


@pytest.mark.parametrize("value", [
    "", "novalue", "=nameless", "a=b\r\nInjected: 1", "x=" + "y" * 5000,
    "a=b; Max-Age=soon", "a=b; Expires=not a date", "a=b; Domain=", "a=b; Path=relative",
    "\x00=\x00", "a=b;;;;=;", 42, None,
])
def test_malformed_set_cookie_never_raises(value):
    jar = CookieJar()
    jar.store(url("https://site.test/p/q"), [("Set-Cookie", value)])
    header = jar.header(url("https://site.test/p/q"))
    assert header is None or ("\r" not in header and "\n" not in header and len(header) < 5000)


def test_the_jar_is_bounded():
    jar = CookieJar()
    target = url("https://site.test/")
    jar.store(target, [("Set-Cookie", f"c{i}=v") for i in range(500)])
    assert len(jar.cookies) == MAX_COOKIES
    assert jar.header(target).endswith("c499=v")
