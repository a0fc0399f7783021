"""The verdict on one URL: what the local vantage point saw, against what the control saw.

Inputs are two measurements in the structure of contracts.md (OONI ts-017 test_keys-like:
``queries``, ``tcp_connect``, ``tls_handshakes``, ``requests`` newest first, ``failure``), the
failure to reach the control helper if any, and the block-page fingerprints. The output is one of
nine verdicts, with reasons (short English sentences with the figures) and the provider that
refused, when a fingerprint names it.

The rules, applied in this order; the first that applies decides:

 1. **No control** (the helper could not be reached, or answered no measurement) →
    ``inconclusive``; the first reason names the control failure. Whatever the local side saw is
    added as further reasons (a geoblock page seen locally still names its provider), but
    without a control nothing is shown to be discriminatory.
 1b. **A provider's page where a DNS lie pointed**: a geoblock or challenge fingerprint matches
    and rule 5's strong signs hold (the local resolver answered only bogon addresses the control
    did not get) → ``dns-tampering``: a filter serving a copy of Cloudflare's page from
    10.10.34.35 is neither a geoblock by Cloudflare nor a bot check.
 2. **Local answer is a geoblock page** (a fingerprint of kind ``geoblock`` matches the local
    final response, HTTP *or HTTPS*) and the control got a response below 400 that does not
    match it → ``geoblocked``, provider named. (OONI's Web Connectivity judges every HTTPS
    answer unblocked and so misses this.) If the control is refused too, failed, or got a bot
    challenge (whatever its status: AWS WAF's is 202) → ``inconclusive``.
 2b. **Local answer is a bot challenge** (a fingerprint of kind ``challenge`` matches: Cloudflare's
    "Just a moment..." or ``cf-mitigated: challenge``, Akamai Bot Manager, DataDome,
    HUMAN/PerimeterX, Imperva/Incapsula, AWS WAF CAPTCHA/Challenge) and no censorship or
    server-denial fingerprint does → ``challenged``, provider named, *whatever the control got*:
    a challenge asks the client to prove it is a browser, which a person passes; it is not a
    refusal of the country, even when only this vantage point is challenged (a country can be
    challenged more often; the analyst re-measures with a browser). The reasons say whether the
    control was challenged too. OONI's Web Connectivity calls a vantage-only challenge
    "http-diff" (the false positives of ooni/probe#1734 and #2528). A page that also matches a
    server-denial fingerprint (Akamai's "Access Denied" with its reference number, an Incapsula
    incident ID) is a block and goes on to rule 9.
 3. **Local answer is a censorship block page** (kind ``censorship-blockpage``) not seen at the
    control → ``dns-tampering`` if the DNS answers are inconsistent (rule 5's test), else
    ``http-diff``; the reason names the block page. Never ``geoblocked``.
 4. **Control failed too**: the control got no HTTP response → ``inconclusive`` naming both
    failures (the site is down or refuses the control; nothing to compare).
 5. **DNS** (compared by ASN as OONI does): local and control answers are *consistent* if they
    share any IP address or any ASN. ``dns-tampering`` when a local resolver answered NXDOMAIN
    or failed while the control resolved the name (a timeout or SERVFAIL of one resolver while
    another local resolver answered does not count), or answered only with bogon addresses
    (private, loopback, link-local, reserved) that the control did not give and that share
    nothing with the control's; or when the answers are inconsistent *and* the local fetch then
    failed (rules 6-8 would fire) or differed (rule 11 would say ``http-diff``) — OONI's rule,
    since CDNs legitimately answer differently per country. A denial (rule 9) stays
    ``server-denied``, with the DNS difference added to the reasons.
 6. **TCP**: the local fetch got no response, every local TCP connect failed and the control
    connected at least once → ``tcp-blocked``.
 7. **TLS**: the local fetch got no response, every local TLS handshake failed (reset, EOF,
    timeout, invalid certificate...) or the request failed with a TLS error, and the control's
    handshake succeeded → ``tls-interference``.
 8. **Local HTTP failure**: no local response while the control got one → ``http-diff`` with the
    failure (OONI calls this "http-failure").
 9. **Denial**: the control got 2xx/3xx, and locally a fingerprint of kind ``server-denial``
    matches that does not match at the control, or the local status is a denial code (403, 451,
    401, 407, 429 and other 4xx except 404, 408 and 410) → ``server-denied``. 451 is named
    "Unavailable For Legal Reasons (RFC 7725)" and the ``Link: rel="blocked-by"`` target is
    quoted when present.
10. **Control refused**: the control got 4xx/5xx, or a bot challenge whatever its status (AWS WAF
    challenges with 202) → ``inconclusive`` (nothing to compare with). A challenged control is
    checked before rule 9, so a local 403 against a challenged control is not "denied".
11. **HTTP comparison** (OONI Web Connectivity's): status codes differ → ``http-diff``;
    otherwise the answers are similar when at least one of these holds: body length proportion
    (shorter / longer) above 0.7, titles share a word of 5+ characters, the uncommon headers
    (not in OONI's list of common ones) overlap or neither side has any. None holds →
    ``http-diff``; one holds → ``accessible``. The figures are given either way.

Bodies are read for fingerprints and titles decompressed when the server sent gzip or deflate
although the probe asked for identity (``match_text``).

Nothing else produces a verdict: a case no rule covers is ``inconclusive`` with what was seen.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import Any

from sentinelle.observatory.access import content
from sentinelle.observatory.access import verdict_names as names
from sentinelle.observatory.access.dns_check import (
    AsnLookup,
    dns_answers,
    dns_consistency,
    dns_reason,
    dns_tampering,
    is_bogon,
)
from sentinelle.observatory.access.fingerprints import (
    MATCH_CHARS,
    FingerprintSet,
    Match,
    page_title,
)

BODY_PROPORTION = 0.7                   # OONI: above this, body lengths match
TITLE_WORD = 5                          # OONI (DOMAIN-NOTES): a shared word longer than 4
NOT_DENIAL = {404, 408, 410}            # 4xx that say "not here" or "too slow", not "not you"
# OONI probe-cli webconnectivity (v0.4) headers that every server sends: not telling.
COMMON_HEADERS = frozenset({
    "date", "content-type", "server", "cache-control", "vary", "set-cookie", "location",
    "expires", "x-powered-by", "content-encoding", "last-modified", "accept-ranges", "pragma",
    "x-frame-options", "etag", "x-content-type-options", "age", "via", "p3p",
    "x-xss-protection", "content-language", "cf-ray", "strict-transport-security", "link",
    "x-varnish", "content-length", "connection", "transfer-encoding", "keep-alive",
})
TLS_FAILURES = ("ssl_", "tls_")
# Answers that deny the name exists (a lie when the control resolves it), as opposed to a
# resolver that is merely slow or broken.
_BLOCKED_BY = re.compile(r"<([^>]{1,500})>\s{0,20};[^,]{0,200}?rel=\"?blocked-by", re.IGNORECASE)


@dataclass(slots=True)
class Verdict:
    verdict: str
    reasons: list[str]
    provider: str | None = None
    matches: list[dict[str, str]] = field(default_factory=list)   # local fingerprint matches
    comparison: dict[str, Any] = field(default_factory=dict)      # OONI-style test keys


# ------------------------------------------------------------------------- reading a measurement

def final_request(measurement: dict | None) -> dict | None:
    """The newest request entry (requests are newest first, as OONI writes them)."""
    requests = (measurement or {}).get("requests")
    if isinstance(requests, list) and requests and isinstance(requests[0], dict):
        return requests[0]
    return None


def final_response(measurement: dict | None) -> dict | None:
    """The final HTTP response, or None when the last request got none."""
    request = final_request(measurement)
    response = request.get("response") if request else None
    if isinstance(response, dict) and status_code(response) is not None:
        return response
    return None


def http_failure(measurement: dict | None) -> str | None:
    if final_response(measurement) is not None:
        return None
    request = final_request(measurement)
    failure = (request or {}).get("failure") or (measurement or {}).get("failure")
    return str(failure) if failure else ("no_http_response" if measurement else None)


def body_bytes(response: dict | None) -> bytes:
    """The (possibly truncated) body as bytes: text, or OONI's {"format": "base64"} form."""
    body = (response or {}).get("body")
    if isinstance(body, dict) and body.get("format") == "base64":
        data = body.get("data")
        if not isinstance(data, str):
            return b""
        try:
            return base64.b64decode(data[: (MATCH_CHARS * 8)], validate=False)
        except (binascii.Error, ValueError):
            return b""
    if isinstance(body, str):
        return body.encode("utf-8", errors="replace")
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    return b""


def body_text(response: dict | None) -> str:
    # Non-UTF-8 pages (windows-1256, koi8-r...) keep their ASCII markup readable.
    return body_bytes(response).decode("utf-8", errors="replace")


def match_text(response: dict | None) -> str:
    """The body as the fingerprints read it: decompressed when it still carries its
    Content-Encoding (a server that compressed although the probe asked for identity, a record
    of an older probe: markers are invisible in compressed bytes), at most MATCH_CHARS * 4
    bytes of output (a bomb stops there); the raw body if it does not decode (the HTTP client
    has usually decoded it already)."""
    raw = body_bytes(response)
    encoding = next((v for k, v in headers_list(response)
                     if k.lower() == "content-encoding"), "")
    if not raw or not content.codings(encoding):
        return raw.decode("utf-8", errors="replace")
    try:
        decoded = content.decode_body(raw, encoding, MATCH_CHARS * 4, complete=False).body
    except content.ContentDecodingError:
        decoded = raw
    return decoded.decode("utf-8", errors="replace")


def body_length(response: dict | None) -> int | None:
    if not response:
        return None
    length = response.get("body_length")
    if isinstance(length, int) and not isinstance(length, bool) and length >= 0:
        return length
    if response.get("body") is None:
        return None
    return len(body_bytes(response))


def headers_list(response: dict | None) -> list[list[str]]:
    items = (response or {}).get("headers_list")
    if isinstance(items, list):
        return [[str(i[0]), str(i[1])] for i in items
                if isinstance(i, list | tuple) and len(i) == 2]
    headers = (response or {}).get("headers")
    if isinstance(headers, dict):
        return [[str(k), str(v)] for k, v in headers.items()]
    return []


def status_code(response: dict | None) -> int | None:
    code = (response or {}).get("code", (response or {}).get("status_code"))
    if isinstance(code, int) and not isinstance(code, bool) and 100 <= code <= 999:
        return code
    return None


# ------------------------------------------------------------------------------ HTTP compare

def compare(local: dict | None, control: dict | None, resolver_asns: AsnLookup = None
            ) -> dict[str, Any]:
    """OONI Web Connectivity's comparison keys (None where there is nothing to compare)."""
    mine, theirs = final_response(local), final_response(control)
    local_dns, control_dns = dns_answers(local, resolver_asns), dns_answers(control, resolver_asns)
    result: dict[str, Any] = {
        "dns_experiment_failure": local_dns.failure,
        "dns_consistency": dns_consistency(local_dns, control_dns) if control else None,
        "http_experiment_failure": http_failure(local),
        "body_length_match": None, "body_proportion": None, "status_code_match": None,
        "headers_match": None, "title_match": None,
    }
    if mine is None or theirs is None:
        return result
    status, control_status = status_code(mine), status_code(theirs)
    if (status is not None and control_status is not None
            and (control_status // 100 == 2 or status == control_status)):
        result["status_code_match"] = status == control_status
    lengths = body_length(mine), body_length(theirs)
    truncated = bool(mine.get("body_is_truncated") or theirs.get("body_is_truncated"))
    if None not in lengths and not truncated:
        small, large = sorted(lengths)  # type: ignore[type-var]
        proportion = 1.0 if large == 0 else small / large
        result["body_proportion"] = round(proportion, 4)
        result["body_length_match"] = proportion > BODY_PROPORTION
    result["headers_match"] = headers_match(headers_list(mine), headers_list(theirs))
    result["title_match"] = title_match(page_title(match_text(mine)[:MATCH_CHARS]),
                                        page_title(match_text(theirs)[:MATCH_CHARS]))
    return result


def headers_match(mine: list[list[str]], theirs: list[list[str]]) -> bool:
    """OONI: match if an uncommon header name is on both sides, or neither side has one."""
    ours = {k.lower() for k, _v in mine} - COMMON_HEADERS
    others = {k.lower() for k, _v in theirs} - COMMON_HEADERS
    if ours & others:
        return True
    return not ours and not others


def title_match(mine: str | None, theirs: str | None) -> bool | None:
    """True if the titles share a word of 5+ characters; None if either has no such word."""
    def words(title: str | None) -> set[str]:
        return {w.casefold() for w in (title or "").split() if len(w) >= TITLE_WORD}
    ours, others = words(mine), words(theirs)
    if not ours or not others:
        return None
    return bool(ours & others)


# ----------------------------------------------------------------------------------- decide

def decide(url: str, local: dict, control: dict | None, control_failure: str | None,
           fingerprints: FingerprintSet, resolver_asns: AsnLookup = None) -> Verdict:
    """The verdict on ``url`` by the rules of this module's docstring.

    ``resolver_asns`` gives the ASN of an answer address that has none (a mapping from address
    to ASN, or a function such as ``vantage.GeoDB(...).asn``); both sides are looked up alike.
    """
    local = local if isinstance(local, dict) else {}
    comparison = compare(local, control, resolver_asns) if control else compare(local, None)
    mine = final_response(local)
    status = status_code(mine)
    matches = fingerprints.match(status, headers_list(mine), match_text(mine)) if mine else []
    matched = [m.as_dict() for m in matches]

    def verdict(name: str, reasons: list[str], provider: str | None = None) -> Verdict:
        return Verdict(name, reasons, provider, matched, comparison)

    # Rule 1: no control.
    if control is None or control_failure:
        why = control_failure or "the control helper returned no measurement"
        reasons = [f"control unavailable: {why}"]
        reasons += _local_summary(local, mine, matches)
        geo = [m for m in matches if m.kind == "geoblock"]
        return verdict(names.INCONCLUSIVE, reasons, _provider(geo))

    theirs = final_response(control)
    control_status = status_code(theirs)
    control_matches = (fingerprints.match(control_status, headers_list(theirs),
                                          match_text(theirs)) if theirs else [])
    control_ids = {m.id for m in control_matches}
    control_challenges = [m for m in control_matches if m.kind == "challenge"]
    local_dns, control_dns = dns_answers(local, resolver_asns), dns_answers(control, resolver_asns)
    inconsistent = comparison["dns_consistency"] == "inconsistent"
    strong = dns_tampering(local_dns, control_dns)

    # Rule 1b: a provider's geoblock or challenge page from where a DNS lie pointed (NXDOMAIN
    # cannot reach here; a bogon the control never got can) is a filter's copy of that page.
    copied = [m for m in matches if m.kind in ("geoblock", "challenge")]
    bogus = bool(local_dns.addresses) and not local_dns.addresses & control_dns.addresses \
        and all(is_bogon(a) for a in local_dns.addresses)
    if strong and copied and bogus:
        return verdict(names.DNS_TAMPERING, [strong, f"{_page_reason(copied, status)}, served from "
                                         "that address: not the provider's own page"])

    # Rule 2: geoblock page.
    geo = [m for m in matches if m.kind == "geoblock"]
    if geo:
        page = _page_reason(geo, status)
        shared = [m.id for m in geo if m.id in control_ids]
        if shared:
            return verdict(names.INCONCLUSIVE, [page, f"the control got the same page "
                                            f"({', '.join(shared)}): it is refused too"],
                           _provider(geo))
        if control_status is None:
            return verdict(names.INCONCLUSIVE, [page, "control got no response "
                                            f"({http_failure(control)})"], _provider(geo))
        if control_challenges:
            # An AWS WAF challenge answers 202: below 400, yet the control never saw the site.
            return verdict(names.INCONCLUSIVE, [page, f"the control got the "
                                            f"{_page_name(control_challenges)} (status "
                                            f"{control_status}): it cannot vouch for the site"],
                           _provider(geo))
        if control_status >= 400:
            return verdict(names.INCONCLUSIVE, [page, f"control status {control_status}: the "
                                            "control is refused too"], _provider(geo))
        return verdict(names.GEOBLOCKED, [page, f"local status {status}, control status "
                                      f"{control_status}"], _provider(geo))

    # Rule 2b: a bot challenge (not a block: a browser passes it).
    challenges = [m for m in matches if m.kind == "challenge"]
    blocks = [m for m in matches if m.kind in ("censorship", "server-denial")]
    if challenges and not blocks:
        reasons = [_page_reason(challenges, status)]
        if control_challenges:
            reasons.append("the control was challenged too "
                           f"({', '.join(m.id for m in control_challenges)}, status "
                           f"{control_status})")
        elif control_status is not None:
            reasons.append(f"control status {control_status} without a challenge: a bot check "
                           "at this vantage point, not a denial of its country; re-measure "
                           "with a browser")
        else:
            reasons.append(f"control got no response ({http_failure(control)})")
        return verdict(names.CHALLENGED, reasons, _provider(challenges))

    # Rule 3: censorship block page.
    censored = [m for m in matches if m.kind == "censorship" and m.id not in control_ids]
    if censored:
        first = censored[0]
        reasons = [f"local answer is the {first.provider} block page ({first.id}), "
                   f"status {status}"]
        if control_status is not None:
            reasons.append(f"control status {control_status}")
        if inconsistent:
            return verdict(names.DNS_TAMPERING, [*reasons, dns_reason(local_dns, control_dns)])
        return verdict(names.HTTP_DIFF, reasons)

    # Rule 4: the control failed too.
    if theirs is None:
        return verdict(names.INCONCLUSIVE, [
            f"control got no response ({http_failure(control)})",
            *(_local_summary(local, mine, matches) or ["local got no response either"])])

    # Rule 5: DNS.
    if strong:
        return verdict(names.DNS_TAMPERING, [strong])
    local_failed = mine is None
    if inconsistent and local_failed:
        return verdict(names.DNS_TAMPERING, [dns_reason(local_dns, control_dns),
                                         f"local fetch failed ({http_failure(local)}), "
                                         f"control status {control_status}"])

    if local_failed:
        failure = http_failure(local) or "no_http_response"
        # Rule 6: TCP.
        tcp = _entries(local, "tcp_connect")
        if tcp and not any(_tcp_ok(e) for e in tcp):
            # The control got a response (rule 4), so it connected.
            failures = sorted({_tcp_failure(e) for e in tcp})
            return verdict(names.TCP_BLOCKED, [
                f"all {len(tcp)} local TCP connect(s) failed ({', '.join(failures)}) while "
                f"the control connected and got status {control_status}"])
        # Rule 7: TLS.
        tls = _entries(local, "tls_handshakes")
        tls_failed = bool(tls) and not any(not e.get("failure") for e in tls)
        if tls_failed or failure.startswith(TLS_FAILURES):
            control_tls = _entries(control, "tls_handshakes")
            if not control_tls or any(not e.get("failure") for e in control_tls):
                failures = sorted({str(e.get("failure")) for e in tls}) or [failure]
                count = f"all {len(tls)} local TLS handshake(s)" if tls else "the local request"
                return verdict(names.TLS_INTERFERENCE, [
                    f"{count} failed ({', '.join(failures)}) while the control's handshake "
                    f"succeeded and it got status {control_status}"])
        # Rule 8: local HTTP failure.
        return verdict(names.HTTP_DIFF, [f"local HTTP request failed ({failure}) while the control "
                                     f"got status {control_status}"])

    assert status is not None and control_status is not None   # by construction

    # Rule 10, first part: a challenged control cannot vouch for the site (checked before rule 9
    # and 11, which would read its challenge page as the site's answer).
    if control_challenges:
        return verdict(names.INCONCLUSIVE, [
            f"the control got the {_page_name(control_challenges)} (status {control_status}), "
            f"local status {status}: the control cannot vouch for the site"])

    # Rule 9: denial.
    denial = [m for m in matches if m.kind == "server-denial" and m.id not in control_ids]
    denied_status = 400 <= status < 500 and status not in NOT_DENIAL
    if control_status < 400 and (denial or denied_status):
        reasons = [f"local status {_status_phrase(status)}, control status {control_status}"]
        if denial:
            reasons.append(_page_reason(denial, status))
        link = _blocked_by(headers_list(mine))
        if link:
            reasons.append(f"the Link rel=\"blocked-by\" header names {link}")
        if inconsistent:
            reasons.append(dns_reason(local_dns, control_dns))
        return verdict(names.SERVER_DENIED, reasons, _provider(denial))

    # Rule 10: the control is refused or failing.
    if control_status >= 400:
        return verdict(names.INCONCLUSIVE, [f"control status {control_status}, local status "
                                        f"{status}: the control cannot vouch for the site"])

    # Rule 11: compare the answers.
    figures = _figures(comparison)
    similar = any(comparison[k] is True for k in ("body_length_match", "headers_match",
                                                  "title_match"))
    if comparison["status_code_match"] is False:
        reasons = [f"local status {status}, control status {control_status}", *figures]
    elif not similar:
        reasons = ["the answers differ in body length, title and uncommon headers", *figures]
    else:
        return verdict(names.ACCESSIBLE, [f"local status {status}, control status "
                                      f"{control_status}", *figures])
    if inconsistent:
        return verdict(names.DNS_TAMPERING, [dns_reason(local_dns, control_dns), *reasons])
    return verdict(names.HTTP_DIFF, reasons)


def _entries(measurement: dict | None, key: str) -> list[dict]:
    items = (measurement or {}).get(key)
    return [e for e in items if isinstance(e, dict)] if isinstance(items, list) else []


def _tcp_ok(entry: dict) -> bool:
    status = entry.get("status")
    return isinstance(status, dict) and status.get("success") is True


def _tcp_failure(entry: dict) -> str:
    status = entry.get("status")
    failure = status.get("failure") if isinstance(status, dict) else None
    return f"{entry.get('ip')}:{entry.get('port')} {failure or 'unknown_failure'}"


def _provider(matches: list[Match]) -> str | None:
    """The first provider that names someone ("any" does not)."""
    for match in matches:
        if match.provider and match.provider.lower() != "any":
            return match.provider
    return None


def _page_reason(matches: list[Match], status: int | None) -> str:
    return f"local answer (status {status}) matches the {_page_name(matches)}"


def _page_name(matches: list[Match]) -> str:
    """"Cloudflare geoblock page cloudflare-1009; also ..." for the first naming match."""
    first = next((m for m in matches if m.provider.lower() != "any"), matches[0])
    who = "" if first.provider.lower() == "any" else f"{first.provider} "
    kind = {"geoblock": "geoblock", "server-denial": "denial",
            "censorship": "block", "challenge": "challenge"}.get(first.kind, first.kind)
    others = [m.id for m in matches if m is not first]
    more = f"; also {', '.join(others)}" if others else ""
    return f"{who}{kind} page {first.id}{more}"


def _status_phrase(status: int) -> str:
    if status == 451:
        return "451 Unavailable For Legal Reasons (RFC 7725)"
    return str(status)


def _blocked_by(items: list[list[str]]) -> str | None:
    for name, value in items:
        if name.lower() == "link":
            found = _BLOCKED_BY.search(value)
            if found:
                return found.group(1)
    return None


def _figures(comparison: dict[str, Any]) -> list[str]:
    figures = []
    if comparison["body_proportion"] is not None:
        figures.append(f"body length ratio {comparison['body_proportion']:.2f}")
    if comparison["title_match"] is not None:
        figures.append("titles share a word" if comparison["title_match"]
                       else "titles share no word")
    if comparison["headers_match"] is not None:
        figures.append("uncommon headers match" if comparison["headers_match"]
                       else "uncommon headers differ")
    return figures


def _local_summary(local: dict, mine: dict | None, matches: list[Match]) -> list[str]:
    if mine is None:
        failure = http_failure(local)
        return [f"local fetch failed ({failure})"] if failure else []
    reasons = [f"local status {status_code(mine)}"]
    if matches:
        reasons.append(_page_reason(matches, status_code(mine)))
    return reasons
