"""`routing/run.py`, the routing scan without its command line (what `seed_observatory` and the
CLI call): typed options in, alerts and a result out, progress through a callback."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sentinelle.evidence import bundle, keys
from sentinelle.observatory.routing.run import RunError, RunOptions, run

WATCH = """\
states:
  CU:
    asns: [27725]
    prefixes:
      - prefix: 190.6.64.0/19
        origins: [27725]
        max_length: 24
"""


def _frame(path: list[int], prefix: str, t: float) -> dict:
    return {"type": "ris_message", "data": {
        "timestamp": t, "peer": "192.0.2.1", "peer_asn": "3356", "host": "rrc10.ripe.net",
        "type": "UPDATE", "path": path,
        "announcements": [{"next_hop": "192.0.2.1", "prefixes": [prefix]}]}}


def _inputs(tmp_path: Path) -> tuple[Path, Path, Path]:
    watch = tmp_path / "watch.yaml"
    watch.write_text(WATCH)
    first, second = tmp_path / "rrc10-a.jsonl", tmp_path / "rrc10-b.jsonl"
    first.write_text(json.dumps(_frame([3356, 11960, 27725], "190.6.64.0/19", 1.7e9)) + "\n")
    second.write_text(json.dumps(_frame([3356, 174, 666], "190.6.64.0/19", 1.7e9 + 60)) + "\n")
    return watch, first, second


def test_run_scans_every_file_reports_progress_and_writes_the_alerts(tmp_path):
    watch, first, second = _inputs(tmp_path)
    seen: list[tuple[str, int, int]] = []
    result = run(RunOptions(watch=watch, output=tmp_path / "alerts.jsonl",
                            rislive=[first, second]),
                 progress=lambda name, done, total: seen.append((name, done, total)))
    assert [a.type for a in result.alerts] == ["E|0"]
    assert result.alerts[0].offending_asn == 666
    lines = [json.loads(line) for line in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    assert [line["type"] for line in lines] == ["E|0"]
    assert [s.records for s in result.sources] == [1, 1]
    assert result.bundle is None and result.output == tmp_path / "alerts.jsonl"
    total = first.stat().st_size + second.stat().st_size
    assert {name for name, _done, _total in seen} == {first.name, second.name}
    assert all(t == total for _name, _done, t in seen)
    assert seen[-1][1] == total                     # every byte of every file was read
    assert [done for _name, done, _t in seen] == sorted(done for _name, done, _t in seen)


def test_run_signs_a_bundle_that_verifies(tmp_path):
    watch, first, _second = _inputs(tmp_path)
    private, public = keys.generate(tmp_path / "cirt.key")
    result = run(RunOptions(watch=watch, output=tmp_path / "alerts.jsonl", rislive=[first],
                            bundle=tmp_path / "scan.zip", sign_key=private,
                            command_line=["seed"]))
    checked = bundle.verify(result.bundle, keys.load_public(public))
    assert checked.ok, checked.problems
    assert checked.manifest["kind"] == bundle.ROUTING_SCAN
    assert checked.manifest["summary"]["sources"][0]["name"] == first.name


@pytest.mark.parametrize(("change", "message"), [
    ({"rislive": []}, "give at least one --mrt or --rislive file"),
    ({"sign_key": Path("k.pem")}, "--sign-key needs --bundle"),
    ({"visibility_threshold": 0}, "--visibility-threshold must be in (0, 1]"),
    ({"rislive": [Path("nope.json")]}, "nope.json: no such file"),
])
def test_run_refuses_bad_options_before_writing_anything(tmp_path, change, message):
    watch, first, _second = _inputs(tmp_path)
    options = RunOptions(watch=watch, output=tmp_path / "alerts.jsonl", rislive=[first])
    for name, value in change.items():
        setattr(options, name, value)
    with pytest.raises(RunError, match=re.escape(message)):
        run(options)
    assert not (tmp_path / "alerts.jsonl").exists()
