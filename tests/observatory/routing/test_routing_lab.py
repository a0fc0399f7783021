"""End-to-end hijack detection against a recording made by real BGP software.

tests/observatory/routing/bgp_lab.py runs a collector (GoBGP, recording MRT), a legitimate origin
(BIRD, AS 65001) and a hijacker (ExaBGP, AS 65666) on loopback. The hijacker announces the origin's
198.18.0.0/16, then the more-specific 198.18.1.0/24. The recorded MRT file is then read with the
routing reader, by bgpdump, scanned against a watch list naming AS 65001 as the only origin, and
scanned again through the `sentinelle routing scan` command, once more writing a signed evidence
bundle whose raw records must decode to the hijacker's announcements.

The lab is played once per module (about 5 s; every wait is a poll with a timeout, 60 s at most
in all). The tests skip with the reason when gobgpd, gobgp, bird or exabgp is not installed
(Debian packages gobgpd, bird2, exabgp).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.observatory.routing.bgp_lab import (
    HIJACKER_AS,
    HIJACKER_IP,
    ORIGIN_AS,
    ORIGIN_IP,
    ORIGIN_PREFIX,
    SUB_PREFIX,
    BgpLab,
    loopback_problem,
    missing_daemons,
    mrt_announcements,
)

MISSING = missing_daemons()
pytestmark = pytest.mark.skipif(
    bool(MISSING),
    reason=f"BGP lab needs {', '.join(MISSING)} (apt-get install gobgpd bird2 exabgp)")

EXPECTED = {
    (ORIGIN_IP, ORIGIN_AS, ORIGIN_PREFIX, (ORIGIN_AS,)),
    (HIJACKER_IP, HIJACKER_AS, ORIGIN_PREFIX, (HIJACKER_AS,)),
    (HIJACKER_IP, HIJACKER_AS, SUB_PREFIX, (HIJACKER_AS,)),
}

WATCH_YAML = f"""\
states:
  CU:
    asns: [{ORIGIN_AS}]
    prefixes:
      - prefix: {ORIGIN_PREFIX}
        origins: [{ORIGIN_AS}]
        max_length: 16
"""


# The installed console script, or the same entry point through the interpreter.
_SCRIPT = Path(sys.executable).with_name("sentinelle")
SENTINELLE = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "sentinelle.cli"]


@dataclasses.dataclass
class LabRun:
    lab: BgpLab
    mrt: Path


@pytest.fixture(scope="module")
def lab_run(tmp_path_factory: pytest.TempPathFactory) -> LabRun:
    problem = loopback_problem()
    if problem:
        pytest.skip(f"BGP lab needs 127.0.0.11-13 on loopback: {problem}")
    workdir = tmp_path_factory.mktemp("bgplab")
    with BgpLab(workdir) as lab:
        mrt = lab.run_hijack_scenario()
    # Copy the dump out of the collector's directory: the daemons are gone, the file is final.
    recorded = workdir.parent / "hijack-updates.mrt"
    shutil.copyfile(mrt, recorded)
    return LabRun(lab, recorded)


@pytest.fixture
def watch_file(tmp_path: Path) -> Path:
    path = tmp_path / "watch.yaml"
    path.write_text(WATCH_YAML)
    return path


def test_lab_records_both_origins_in_mrt(lab_run: LabRun) -> None:
    found = set(mrt_announcements(lab_run.mrt))
    assert found >= EXPECTED, found
    # The lab ends every daemon it started, with their helper processes.
    assert all(d.proc.poll() is not None for d in lab_run.lab.daemons)


@pytest.mark.skipif(shutil.which("bgpdump") is None, reason="bgpdump is not installed")
def test_bgpdump_reads_the_recording(lab_run: LabRun) -> None:
    run = subprocess.run(["bgpdump", "-m", str(lab_run.mrt)], capture_output=True, text=True,
                         timeout=30, check=True)
    # bgpdump -m: BGP4MP|time|A|peer_ip|peer_as|prefix|as_path|origin|next_hop|...
    rows = {tuple(line.split("|")[3:7]) for line in run.stdout.splitlines()
            if line.split("|")[2:3] == ["A"]}
    assert (ORIGIN_IP, str(ORIGIN_AS), ORIGIN_PREFIX, str(ORIGIN_AS)) in rows
    assert (HIJACKER_IP, str(HIJACKER_AS), ORIGIN_PREFIX, str(HIJACKER_AS)) in rows
    assert (HIJACKER_IP, str(HIJACKER_AS), SUB_PREFIX, str(HIJACKER_AS)) in rows


def test_reader_sees_the_announcements(lab_run: LabRun) -> None:
    mrt = pytest.importorskip("sentinelle.observatory.routing.mrt")
    stats = mrt.ReadStats()
    elements = list(mrt.read_elements(lab_run.mrt, collector="lab", stats=stats))
    announced = {(e.peer_ip, e.peer_asn, e.prefix, e.as_path) for e in elements if e.kind == "A"}
    assert announced >= EXPECTED, announced
    assert stats.skipped_records == 0
    assert not stats.truncated
    for element in elements:
        assert element.raw, "each element carries the MRT record it came from"
        assert element.collector == "lab"
    by_prefix = {(e.peer_asn, e.prefix): e for e in elements if e.kind == "A"}
    assert by_prefix[(HIJACKER_AS, SUB_PREFIX)].origin() == HIJACKER_AS
    assert by_prefix[(ORIGIN_AS, ORIGIN_PREFIX)].origin() == ORIGIN_AS


def _check_alerts(alerts: list[dict]) -> None:
    """One E|0 for the /16 and one S|0 for the /24, both naming AS 65666; none names AS 65001."""
    by_type = {(a["type"], a["prefix"]): a for a in alerts}
    exact = by_type.get(("E|0", ORIGIN_PREFIX))
    sub = by_type.get(("S|0", SUB_PREFIX))
    assert exact is not None, alerts
    assert sub is not None, alerts
    for alert in (exact, sub):
        assert alert["offending_asn"] == HIJACKER_AS
        assert alert["state"] == "CU"
        assert alert["watched_prefix"] == ORIGIN_PREFIX
        assert alert["legitimate_origins"] == [ORIGIN_AS]
        assert any(str(HIJACKER_AS) in path for path in alert["example_paths"])
    assert not [a for a in alerts if a["offending_asn"] == ORIGIN_AS], alerts
    assert not [a for a in alerts if a["type"] in ("E|0", "S|0") and a not in (exact, sub)], alerts


def test_scan_flags_exact_and_subprefix_hijack(lab_run: LabRun, watch_file: Path) -> None:
    mrt = pytest.importorskip("sentinelle.observatory.routing.mrt")
    scan = pytest.importorskip("sentinelle.observatory.routing.scan")
    watchlist = pytest.importorskip("sentinelle.observatory.routing.watchlist")
    watch = watchlist.load(watch_file)
    alerts = scan.scan(mrt.read_elements(lab_run.mrt, collector="lab"), watch)
    _check_alerts([alert.to_dict() for alert in alerts])
    for alert in alerts:
        if alert.type in ("E|0", "S|0"):
            # The evidence behind the alert: the raw BGP4MP record(s) the hijacker's UPDATE came in.
            assert alert.samples and all(len(raw) > 12 for raw in alert.samples)


def test_cli_routing_scan_writes_the_alerts(lab_run: LabRun, watch_file: Path,
                                            tmp_path: Path) -> None:
    pytest.importorskip("sentinelle.observatory.routing.cli")
    output = tmp_path / "alerts.jsonl"
    run = subprocess.run([*SENTINELLE, "routing", "scan", "--mrt", str(lab_run.mrt),
                          "--watch", str(watch_file), "--output", str(output)],
                         capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    alerts = [json.loads(line) for line in output.read_text().splitlines() if line.strip()]
    _check_alerts(alerts)


def test_cli_bundle_holds_the_hijackers_records(lab_run: LabRun, watch_file: Path,
                                                tmp_path: Path) -> None:
    pytest.importorskip("sentinelle.observatory.routing.cli")
    bundle = pytest.importorskip("sentinelle.evidence.bundle")
    keys = pytest.importorskip("sentinelle.evidence.keys")
    private, public = keys.generate(tmp_path / "scan.key")
    zip_path = tmp_path / "scan.zip"
    run = subprocess.run([*SENTINELLE, "routing", "scan", "--quiet", "--mrt", str(lab_run.mrt),
                          "--watch", str(watch_file), "--output", str(tmp_path / "alerts.jsonl"),
                          "--bundle", str(zip_path), "--sign-key", str(private)],
                         capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    result = bundle.verify(zip_path, public_key=keys.load_public(public))
    assert result.ok, result.problems
    alerts = result.manifest["summary"]["alerts"]
    _check_alerts(alerts)
    for alert in alerts:
        if alert["type"] not in ("E|0", "S|0"):
            continue
        # The raw records in the bundle are the collector's own bytes: decode them independently.
        records = tmp_path / f"{alert['id']}.mrt"
        records.write_bytes(bundle.read_member(zip_path, f"records/{alert['id']}.mrt"))
        assert (HIJACKER_IP, HIJACKER_AS, alert["prefix"], (HIJACKER_AS,)) in \
            mrt_announcements(records)
