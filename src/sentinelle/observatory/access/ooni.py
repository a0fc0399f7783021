"""One OONI-compatible JSON line per measured URL.

The line has OONI's base fields (df-000, data format "0.2.0") and Web Connectivity test keys
(ts-017: ``queries``, ``tcp_connect``, ``tls_handshakes``, ``requests``, ``control`` in the
test helper's response shape, the comparison keys, ``accessible`` and ``blocking``), so OONI's
tools and ``sentinelle import --format ooni`` read it. Our additions sit at the top level:
``verdict``, ``verdict_reasons``, ``provider``, ``category_code``, ``fingerprint_matches``,
``vantage`` and ``control_vantage`` (the identity records of vantage.py).

Like OONI, ``probe_ip`` is always "127.0.0.1", so OONI's tools see a scrubbed line. Our
``vantage`` record does carry the vantage point's address (and its GeoIP placement): where the
databases put that address is the evidence of a country block, so strip ``vantage.ip`` before
publishing lines beyond the parties to a complaint. ``blocking`` maps our verdicts onto
OONI's vocabulary (dns, tcp_ip, http-failure, http-diff); server-side denial has no OONI name
and is reported as "http-diff", which is what OONI would see if it compared HTTPS answers. A bot
challenge (``challenged``) gets ``accessible`` and ``blocking`` null, as ``inconclusive`` does:
OONI's own analysis would call a challenge seen only at the vantage point "http-diff" (status
403 against 200) and one seen at both ends accessible; both are wrong, since a browser passes it.
"""

from __future__ import annotations

import copy
import datetime as dt
import secrets
import string
from typing import Any

from sentinelle import __version__
from sentinelle.observatory.access import vantage as vantage_mod
from sentinelle.observatory.access import verdict as verdict_mod
from sentinelle.observatory.access import verdict_names as names

DATA_FORMAT_VERSION = "0.2.0"
SOFTWARE_NAME = "sentinelle-probe"
TEST_NAME = "web_connectivity"
# The test keys follow Web Connectivity 0.4 (one control, the classic comparison keys): OONI's
# pipeline picks its analysis by test_version, so we say which one our keys match.
TEST_VERSION = "0.4.3"
BLOCKING = {names.ACCESSIBLE: False, names.DNS_TAMPERING: "dns", names.TCP_BLOCKED: "tcp_ip",
            names.TLS_INTERFERENCE: "http-failure", names.HTTP_DIFF: "http-diff",
            names.GEOBLOCKED: "http-diff", names.SERVER_DENIED: "http-diff",
            names.INCONCLUSIVE: None,
            # A bot check is no block: OONI would say http-diff (ooni/probe#1734); undetermined.
            names.CHALLENGED: None}
# Verdicts that say neither "accessible" nor "blocked": OONI's accessible and blocking are null.
UNDETERMINED = (names.INCONCLUSIVE, names.CHALLENGED)
_ALPHABET = string.ascii_letters + string.digits


def ooni_time(value: dt.datetime | str | None) -> str:
    """"YYYY-MM-DD HH:MM:SS" in UTC, as OONI writes measurement_start_time."""
    if value is None:
        value = dt.datetime.now(dt.UTC)
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        try:
            value = dt.datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{value!r} is not a date and time") from None
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S")


def make_report_id(started: dt.datetime | str | None, cc: str | None, asn: int | None) -> str:
    """A report id in OONI's present form: 20240214T090617Z_webconnectivity_IT_30722_n1_<16>."""
    stamp = ooni_time(started).replace("-", "").replace(":", "").replace(" ", "T") + "Z"
    suffix = "".join(secrets.choice(_ALPHABET) for _ in range(16))
    return f"{stamp}_webconnectivity_{cc or 'ZZ'}_{asn or 0}_n1_{suffix}"


def measurement_line(url: str, category_code: str | None, local: dict, control: dict | None,
                     verdict: verdict_mod.Verdict, vantage: dict | None,
                     started: dt.datetime | str, runtime: float, report_id: str, *,
                     control_vantage: dict | None = None, control_url: str | None = None,
                     control_failure: str | None = None,
                     test_start_time: dt.datetime | str | None = None,
                     resolver_ip: str | None = None, resolver_asn: int | None = None,
                     resolver_network_name: str | None = None,
                     annotations: dict[str, str] | None = None) -> dict[str, Any]:
    """The JSON object of one line (serialise with ``json.dumps(..., ensure_ascii=False)``)."""
    cc, asn = vantage_mod.best(vantage)
    geoip = (vantage or {}).get("geoip") or {}
    comparison = verdict.comparison or verdict_mod.compare(local, control)
    local = local if isinstance(local, dict) else {}
    test_keys: dict[str, Any] = {
        "agent": "redirect",
        "client_resolver": resolver_ip,
        "retries": None,
        "socksproxy": None,
        "queries": copy.deepcopy(_list(local, "queries")),
        "tcp_connect": copy.deepcopy(_list(local, "tcp_connect")),
        "tls_handshakes": copy.deepcopy(_list(local, "tls_handshakes")),
        "requests": [_request(r) for r in _list(local, "requests")],
        "control": control_response(control) if control else {},
        "control_failure": control_failure if control_failure else
        (None if control else "no control measurement"),
        "dns_experiment_failure": comparison.get("dns_experiment_failure"),
        "dns_consistency": comparison.get("dns_consistency"),
        "http_experiment_failure": comparison.get("http_experiment_failure"),
        "body_length_match": comparison.get("body_length_match"),
        "body_proportion": comparison.get("body_proportion"),
        "status_code_match": comparison.get("status_code_match"),
        "headers_match": comparison.get("headers_match"),
        "title_match": comparison.get("title_match"),
        "accessible": (None if verdict.verdict in UNDETERMINED
                       else verdict.verdict == names.ACCESSIBLE),
        "blocking": BLOCKING.get(verdict.verdict),
    }
    start = ooni_time(started)
    return {
        "annotations": {"engine_name": SOFTWARE_NAME, **(annotations or {})},
        "data_format_version": DATA_FORMAT_VERSION,
        "extensions": {"dnst": 0, "httpt": 0, "tcpconnect": 0, "tlshandshake": 0},
        "input": url,
        "measurement_start_time": start,
        "probe_asn": f"AS{asn or 0}",
        "probe_cc": cc or "ZZ",
        "probe_ip": "127.0.0.1",
        "probe_network_name": geoip.get("as_org") or "",
        "report_id": report_id,
        "resolver_asn": f"AS{resolver_asn or 0}",
        "resolver_ip": resolver_ip or "",
        "resolver_network_name": resolver_network_name or "",
        "software_name": SOFTWARE_NAME,
        "software_version": __version__,
        "test_helpers": {"backend": {"address": control_url or "",
                                     "type": "https" if (control_url or "").startswith("https")
                                     else "http"}},
        "test_keys": test_keys,
        "test_name": TEST_NAME,
        "test_runtime": round(float(runtime), 6),
        "test_start_time": ooni_time(test_start_time) if test_start_time else start,
        "test_version": TEST_VERSION,
        "category_code": category_code or "",
        "verdict": verdict.verdict,
        "verdict_reasons": list(verdict.reasons),
        "provider": verdict.provider,
        "fingerprint_matches": list(verdict.matches),
        "vantage": vantage or {},
        "control_vantage": control_vantage or {},
    }


def control_response(control: dict) -> dict[str, Any]:
    """Our control measurement in the shape of OONI's test helper response (ts-017)."""
    tcp = {}
    for entry in _list(control, "tcp_connect"):
        status = entry.get("status") if isinstance(entry.get("status"), dict) else {}
        tcp[_endpoint(entry.get("ip"), entry.get("port"))] = {
            "status": status.get("success") is True, "failure": status.get("failure")}
    tls = {}
    for entry in _list(control, "tls_handshakes"):
        tls[str(entry.get("address") or "")] = {
            "server_name": entry.get("server_name") or "",
            "status": not entry.get("failure"), "failure": entry.get("failure")}
    addresses: list[str] = []
    ip_info: dict[str, dict[str, int]] = {}
    failures = []
    for query in _list(control, "queries"):
        if query.get("failure"):
            failures.append(query["failure"])
        answers = query.get("answers")
        for answer in answers if isinstance(answers, list) else []:    # the helper's input
            if not isinstance(answer, dict):
                continue
            address = answer.get("ipv4") or answer.get("ipv6")
            if isinstance(address, str) and address not in addresses:
                addresses.append(address)
                if isinstance(answer.get("asn"), int):
                    ip_info[address] = {"asn": answer["asn"]}
    response = verdict_mod.final_response(control)
    http = {
        "body_length": verdict_mod.body_length(response) if response else -1,
        "discovered_h3_endpoint": "",
        "failure": verdict_mod.http_failure(control),
        "title": (verdict_mod.page_title(verdict_mod.body_text(response)) or "")
        if response else "",
        "headers": dict(verdict_mod.headers_list(response)) if response else {},
        "status_code": verdict_mod.status_code(response) or -1,
    }
    return {
        "tcp_connect": tcp,
        "tls_handshake": tls,
        "quic_handshake": {},
        "http_request": http,
        "http3_request": None,
        "dns": {"failure": None if addresses else (failures[0] if failures else None),
                "addrs": addresses},
        "ip_info": ip_info,
    }


def _list(measurement: dict | None, key: str) -> list[dict]:
    items = (measurement or {}).get(key)
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def _endpoint(ip: Any, port: Any) -> str:
    ip = str(ip or "")
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _request(entry: dict) -> dict:
    """A df-001 request entry; the ``headers`` maps OONI also writes are added if missing."""
    entry = copy.deepcopy(entry)
    for part in ("request", "response"):
        value = entry.get(part)
        if isinstance(value, dict) and "headers" not in value:
            value["headers"] = dict(verdict_mod.headers_list(value))
    return entry
