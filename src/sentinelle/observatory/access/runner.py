"""Running a whole URL list: every URL measured here and at the control helper in parallel,
judged (verdict.decide), written as one OONI-compatible JSON line as soon as it is done, and at
the end, optionally, packed with the raw transcripts into a signed evidence bundle.

Concurrency is bounded overall (``concurrency``, default 16) and per host name (``per_host``,
default 2: a probe must not look like an attack on one site, and a CDN that rate-limits would
skew the verdicts). Waiting for a host's slot does not hold an overall slot, so a list dominated
by one site still keeps the other sites moving.

Both sides fetch the same way: the protocol preference (``http2``, ``--no-h2``) and the header
set (``browser_headers``) go to the helper with each URL; each line says how each side fetched
(``x_fetch``, ``x_control_fetch``: null from a helper too old to say), as do the transcripts and
the bundle's manifest (``fetch``).

An unreachable control helper does not stop the run: every URL is then ``inconclusive`` with a
reason naming the control failure (the local measurement is still recorded).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import shutil
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sentinelle.observatory.access import fingerprints as fingerprints_mod
from sentinelle.observatory.access import measure as m
from sentinelle.observatory.access import ooni
from sentinelle.observatory.access import vantage as vantage_mod
from sentinelle.observatory.access import verdict as verdict_mod
from sentinelle.observatory.access import verdict_names as names
from sentinelle.observatory.access.helper import ControlClient, ControlError, PinMismatch
from sentinelle.observatory.access.targets import Target, TargetList, read_list

DEFAULT_RESOLVER = "1.1.1.1:53"


class RunError(ValueError):
    """A problem with the options or inputs that stops the run before it starts."""


@dataclass
class RunOptions:
    list_path: Path
    control_url: str
    control_token: str
    output: Path
    bind: str | None = None
    concurrency: int = 16
    per_host: int = 2
    timeout: float = 10.0
    geoip_db: Path | None = None
    asn_db: Path | None = None
    self_cc: str | None = None
    self_asn: int | None = None
    resolver: str | None = DEFAULT_RESOLVER
    system_resolver: bool = True
    ca_file: Path | None = None
    fingerprints: list[Path] = field(default_factory=list)
    max_body: int = m.DEFAULT_MAX_BODY
    sign_key: Path | None = None
    bundle: Path | None = None
    progress: bool = True
    control_pins: list[str] = field(default_factory=list)   # tls_pin forms; empty: CA check
    http2: bool = True                  # offer ALPN h2 (--no-h2: HTTP/1.1 only)
    browser_headers: bool = False       # --browser-headers: Chrome's header set
    command_line: list[str] = field(default_factory=lambda: list(sys.argv))
    # A campaign round's identity (name, round, scheduled_at, interval_seconds, config_sha256),
    # written as the manifest's "campaign" key: the platform files rounds by it.
    campaign: dict[str, Any] | None = None


@dataclass
class RunResult:
    count: int
    verdicts: Counter
    problems: list
    output: Path
    bundle: Path | None
    control_failure: str | None
    vantage: dict
    control_vantage: dict
    started_at: str
    finished_at: str
    elapsed: float
    results: list[dict[str, Any]]


def run(options: RunOptions, targets: TargetList | None = None) -> RunResult:
    """Synchronous entry point (the CLI's)."""
    return asyncio.run(run_async(options, targets))


async def run_async(options: RunOptions, targets: TargetList | None = None) -> RunResult:
    prepared = _prepare(options, targets)
    loop = asyncio.get_running_loop()
    # getaddrinfo runs in the default executor, sized for a few CPUs: give it one thread per
    # URL in flight so the system resolver does not become the bottleneck.
    executor = ThreadPoolExecutor(max_workers=options.concurrency + 4,
                                  thread_name_prefix="probe-dns")
    loop.set_default_executor(executor)
    try:
        return await _Run(options, *prepared).go()
    finally:
        executor.shutdown(wait=False, cancel_futures=True)


def _prepare(options: RunOptions, targets: TargetList | None):
    if options.concurrency < 1 or options.per_host < 1:
        raise RunError("--concurrency and the per-host limit must be at least 1")
    if targets is None:
        targets = read_list(options.list_path)          # TargetListError is a ValueError
    try:
        fingerprints = fingerprints_mod.load(options.fingerprints)
    except (OSError, ValueError) as exc:
        raise RunError(f"fingerprints: {exc}") from None
    from sentinelle.evidence import keys
    try:
        signing_key = keys.load_signing_key(options.sign_key)
    except keys.KeyFileError as exc:
        raise RunError(str(exc)) from None
    try:
        geodb = (vantage_mod.GeoDB(options.geoip_db, options.asn_db)
                 if options.geoip_db or options.asn_db else None)
    except ValueError as exc:
        raise RunError(str(exc)) from None
    resolver = m.parse_resolver(options.resolver) if options.resolver else None
    return targets, fingerprints, signing_key, geodb, resolver


class _Run:
    def __init__(self, options: RunOptions, targets: TargetList, fingerprints,
                 signing_key, geodb, resolver) -> None:
        self.options = options
        self.targets = targets
        self.fingerprints = fingerprints
        self.signing_key = signing_key
        self.geodb = geodb
        self.resolver = resolver
        self.asn_cache: dict[str, tuple[int | None, str | None]] = {}
        self.config = m.MeasureConfig(
            resolver=resolver, bind=options.bind,
            ca_file=str(options.ca_file) if options.ca_file else None,
            max_body=options.max_body, system_resolver=options.system_resolver,
            asn_lookup=self.asn_lookup if geodb else None, http2=options.http2,
            browser_headers=options.browser_headers)
        self.config.set_timeout(options.timeout)
        self.client = ControlClient(options.control_url, options.control_token,
                                    bind=options.bind, timeout=options.timeout,
                                    ca_file=self.config.ca_file, max_body=options.max_body,
                                    pins=options.control_pins)
        self.results: list[dict[str, Any]] = []
        self.verdicts: Counter = Counter()
        self.transcript_dir: Path | None = None

    def asn_lookup(self, ip: str) -> tuple[int | None, str | None]:
        if ip not in self.asn_cache:
            try:
                facts = self.geodb.lookup(ip)
                self.asn_cache[ip] = (facts.get("asn"), facts.get("as_org"))
            except ValueError:
                self.asn_cache[ip] = (None, None)
        return self.asn_cache[ip]

    def resolver_asn(self, ip: str) -> int | None:
        return self.asn_lookup(ip)[0] if self.geodb else None

    async def go(self) -> RunResult:
        options = self.options
        started = dt.datetime.now(dt.UTC)
        clock = time.perf_counter()
        control_failure: str | None = None
        identity: dict[str, Any] = {}
        try:
            identity = await self.client.identity()
        except PinMismatch:
            # Not an unreachable control: someone else holds the line, or the helper's key
            # changed. Stop before a line is written rather than record every URL against it.
            raise
        except ControlError as exc:
            control_failure = str(exc)
        probe_ip = options.bind or identity.get("client_ip")
        try:
            self.vantage = vantage_mod.identify(_public(probe_ip), options.self_cc,
                                                options.self_asn, options.geoip_db,
                                                options.asn_db)
        except ValueError as exc:
            raise RunError(f"vantage: {exc}") from None
        self.control_vantage = self._control_vantage(identity)
        cc, asn = vantage_mod.best(self.vantage)
        self.report_id = ooni.make_report_id(started, cc, asn)
        self.started = started
        if options.bundle:
            self.transcript_dir = Path(tempfile.mkdtemp(prefix="sentinelle-probe-"))
        options.output.parent.mkdir(parents=True, exist_ok=True)
        try:
            with options.output.open("w", encoding="utf-8") as out, self._progress() as bar:
                task_id = bar.add_task("probing", total=len(self.targets.targets))
                overall = asyncio.Semaphore(options.concurrency)
                per_host: dict[str, asyncio.Semaphore] = {}

                async def one(index: int, target: Target) -> None:
                    host = (urlsplit(target.url).hostname or "").lower()
                    slot = per_host.setdefault(host, asyncio.Semaphore(options.per_host))
                    async with slot, overall:
                        line = await self.measure_one(index, target, control_failure)
                    out.write(json.dumps(line, ensure_ascii=False) + "\n")
                    out.flush()
                    bar.advance(task_id)

                await asyncio.gather(*(one(i, t)
                                       for i, t in enumerate(self.targets.targets, 1)))
            finished = dt.datetime.now(dt.UTC)
            self.results.sort(key=lambda r: r.pop("_index"))
            bundle = self._bundle(started, finished) if options.bundle else None
        finally:
            if self.transcript_dir is not None:
                shutil.rmtree(self.transcript_dir, ignore_errors=True)
            if self.geodb is not None:
                self.geodb.close()
        return RunResult(
            count=len(self.results), verdicts=self.verdicts, problems=self.targets.problems,
            output=options.output, bundle=bundle, control_failure=control_failure,
            vantage=self.vantage, control_vantage=self.control_vantage,
            started_at=started.isoformat(), finished_at=finished.isoformat(),
            elapsed=time.perf_counter() - clock, results=self.results)

    def _control_vantage(self, identity: dict[str, Any]) -> dict[str, Any]:
        """The helper's own identity record, checked against *our* GeoIP databases too: the
        complaint should not rest on the control's word alone."""
        reported = identity.get("vantage") if isinstance(identity.get("vantage"), dict) else {}
        if not reported:
            return {}
        own = reported.get("self_reported") or {}
        try:
            checked = vantage_mod.identify(_public(reported.get("ip")), own.get("cc"),
                                           own.get("asn"), self.options.geoip_db,
                                           self.options.asn_db)
        except ValueError:
            return dict(reported)
        if not (self.options.geoip_db or self.options.asn_db):
            return dict(reported)
        checked["reported_by_helper"] = reported
        return checked

    async def measure_one(self, index: int, target: Target,
                          control_failure: str | None) -> dict[str, Any]:
        started = dt.datetime.now(dt.UTC)
        clock = time.perf_counter()
        local_task = asyncio.ensure_future(self._local(target.url))
        control: dict[str, Any] | None = None
        control_transcripts: list = []
        control_fetch: dict[str, Any] | None = None
        failure = control_failure
        if failure is None:
            try:
                answer = await self.client.measure(
                    target.url, _resolver_text(self.resolver), self.options.timeout,
                    system_resolver=self.options.system_resolver, http2=self.options.http2,
                    browser_headers=self.options.browser_headers)
                control = answer["measurement"]
                control_fetch = _control_fetch(answer)
                control_transcripts = answer.get("transcripts") or []
            except ControlError as exc:
                failure = str(exc)
        local = await local_task
        runtime = time.perf_counter() - clock
        resolver_ip = self.resolver[0] if self.resolver else None

        def judge(control: dict | None, failure: str | None):  # noqa: ANN202
            decision = verdict_mod.decide(target.url, local.keys, control, failure,
                                          self.fingerprints, self.resolver_asn)
            if control is not None and failure is None:
                decision = _fetched_alike(decision, local.keys, control, control_fetch,
                                          self.options.browser_headers)
            return decision, ooni.measurement_line(
                target.url, target.category_code, local.keys, control, decision, self.vantage,
                started, runtime, self.report_id, control_vantage=self.control_vantage,
                control_url=self.options.control_url, control_failure=failure,
                test_start_time=self.started, resolver_ip=resolver_ip,
                resolver_asn=self.resolver_asn(resolver_ip) if resolver_ip else None)

        try:
            decision, line = judge(control, failure)
        except Exception as exc:  # noqa: BLE001
            # The control's measurement is outside input: one of the wrong shape makes this URL
            # inconclusive ("no usable control"), it must not end the run.
            if control is None:
                raise
            failure = (f"control helper {self.options.control_url} answered a measurement "
                       f"the probe cannot read ({type(exc).__name__}: {str(exc)[:120]})")
            control, control_transcripts = None, []
            decision, line = judge(None, failure)
        self.verdicts[decision.verdict] += 1
        self.results.append({
            "_index": index, "input": target.url, "category_code": target.category_code,
            "verdict": decision.verdict, "verdict_reasons": list(decision.reasons),
            "provider": decision.provider,
            "measurement_start_time": line["measurement_start_time"]})
        line["x_fetch"] = self.fetch_options()
        # None: an older helper that does not say how it fetched (HTTP/1.1, bare headers).
        line["x_control_fetch"] = control_fetch
        if self.transcript_dir is not None:
            record = {"input": target.url, "list_line": target.line,
                      "measurement_start_time": line["measurement_start_time"],
                      "fetch": self.fetch_options(), "control_fetch": control_fetch,
                      "probe": local.transcripts, "control": control_transcripts,
                      "control_failure": failure}
            (self.transcript_dir / f"{index:04d}.json").write_text(
                json.dumps(record, ensure_ascii=False, indent=1), encoding="utf-8")
        return line

    def fetch_options(self) -> dict[str, Any]:
        return {"http2": self.options.http2,
                "header_set": "browser" if self.options.browser_headers else "bare"}

    async def _local(self, url: str) -> m.Measurement:
        try:
            return await m.measure(url, self.config)
        except Exception as exc:  # noqa: BLE001 - one URL's bug must not end the run
            keys = {"queries": [], "tcp_connect": [], "tls_handshakes": [], "requests": [],
                    "failure": m.failure_string(exc)}
            return m.Measurement(keys, [{"type": "error", "error": repr(exc)[:500]}])

    def _progress(self):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        return Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                        MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                        console=Console(stderr=True), disable=not self.options.progress,
                        transient=False)

    def _bundle(self, started: dt.datetime, finished: dt.datetime) -> Path:
        from sentinelle.evidence import bundle

        options = self.options
        assert options.bundle is not None and self.transcript_dir is not None
        summary = {"list": self.targets.name or options.list_path.name,
                   "count": len(self.results), "verdicts": dict(self.verdicts),
                   "results": self.results,
                   "list_problems": [str(p) for p in self.targets.problems]}
        options.bundle.parent.mkdir(parents=True, exist_ok=True)
        with bundle.BundleWriter(options.bundle, kind=bundle.ACCESS_PROBE,
                                 signing_key=self.signing_key,
                                 command_line=_redacted(options.command_line)) as writer:
            writer.add_file("measurements.jsonl", options.output)
            for path in sorted(self.transcript_dir.glob("*.json")):
                writer.add_file(f"transcripts/{path.name}", path)
            writer.set("vantage", self.vantage)
            writer.set("control", self.control_vantage)
            writer.set("fetch", self.fetch_options())
            writer.set("started_at", started.isoformat())
            writer.set("finished_at", finished.isoformat())
            writer.set("summary", summary)
            if options.campaign is not None:
                writer.set("campaign", options.campaign)
        return options.bundle


# Verdicts that rest on the two HTTP answers differing (not on a block page, DNS, TCP or TLS):
# meaningless when the two sides did not fetch alike.
_COMPARED = frozenset({names.SERVER_DENIED, names.HTTP_DIFF})


def _fetched_alike(decision: verdict_mod.Verdict, local: dict, control: dict,
                   control_fetch: dict[str, Any] | None,
                   browser_headers: bool) -> verdict_mod.Verdict:
    """An older helper (``control_fetch`` None) fetches over HTTP/1.1 with the bare headers:
    if we spoke h2 or sent the browser set, a difference between the two answers may be the
    protocol or the headers, not the network, so a comparison-based denial is inconclusive."""
    if decision.verdict not in _COMPARED or decision.provider:
        return decision         # a block page named by a fingerprint stands on its own
    ours = verdict_mod.final_request(local) or {}
    spoke_h2 = (ours.get("request") or {}).get("x_protocol") == "h2"
    theirs = verdict_mod.final_request(control) or {}
    their_h2 = (theirs.get("request") or {}).get("x_protocol") == "h2"
    their_browser = bool(control_fetch and control_fetch.get("header_set") == "browser")
    if spoke_h2 == their_h2 and browser_headers == their_browser:
        return decision
    why = (f"the control fetched differently ({'h2' if their_h2 else 'HTTP/1.1'}, "
           f"{'browser' if their_browser else 'bare'} headers; here "
           f"{'h2' if spoke_h2 else 'HTTP/1.1'}, {'browser' if browser_headers else 'bare'}): "
           f"{decision.verdict} not concluded")
    return verdict_mod.Verdict(names.INCONCLUSIVE, [why, *decision.reasons], decision.provider,
                               decision.matches, decision.comparison)


def _control_fetch(answer: dict[str, Any]) -> dict[str, Any] | None:
    fetch = answer.get("fetch")
    if not isinstance(fetch, dict):
        return None
    return {"http2": fetch.get("http2") is True,
            "header_set": "browser" if fetch.get("browser_headers") is True else "bare"}


def _resolver_text(resolver: tuple[str, int] | None) -> str | None:
    if resolver is None:
        return None
    host, port = resolver
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _public(ip: Any) -> str | None:
    return ip if isinstance(ip, str) and ip and ip not in ("0.0.0.0", "::") else None  # noqa: S104


def _redacted(argv: list[str]) -> list[str]:
    """The command line for the manifest, without the control token."""
    out: list[str] = []
    hide = False
    for arg in argv:
        if hide:
            out.append("***")
            hide = False
        elif arg in ("--control-token", "--token"):
            out.append(arg)
            hide = True
        elif arg.startswith(("--control-token=", "--token=")):
            out.append(arg.split("=", 1)[0] + "=***")
        else:
            out.append(arg)
    return out
