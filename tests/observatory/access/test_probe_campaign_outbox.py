"""The campaign outbox at the instants a kill -9 can leave it in (deterministic, without the
farm): a bundle renamed into pending/ but not recorded, a row decided but its file not moved, a
round left running, partial work files; and files that are not a campaign's state."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from sentinelle.evidence.bundle import BundleWriter
from sentinelle.observatory.access.campaign.outbox import Outbox, OutboxError, sha256_of

NOW = dt.datetime(2026, 12, 2, 8, 0, tzinfo=dt.UTC)


def make_bundle(path: Path, number: int) -> Path:
    with BundleWriter(path, kind="access-probe") as writer:
        writer.add_bytes("measurements.jsonl", b"{}\n")
        writer.set("campaign", {"name": "cu", "round": number, "scheduled_at": NOW.isoformat(),
                                "interval_seconds": 3600, "config_sha256": "0" * 64})
    return path


def test_a_bundle_renamed_but_not_recorded_is_adopted_from_its_manifest(tmp_path):
    outbox = Outbox(tmp_path, "cu")
    number = outbox.start_round(NOW, NOW)
    source = make_bundle(outbox.work / "bundle.zip", number)
    sha, _size = sha256_of(source)
    # the process died right after the rename, before the transaction that records it
    source.rename(outbox.folders["pending"] / f"{sha}.zip")
    (outbox.work / "round-9").mkdir()
    (outbox.work / "round-9" / "measurements.jsonl").write_text("partial")
    outbox.close()
    outbox = Outbox(tmp_path, "cu")
    notes = outbox.recover(keep=True)
    assert any("now recorded" in note for note in notes)
    assert outbox.counts() == {"pending": 1, "acknowledged": 0, "refused": 0}
    assert [(r["round"], r["status"]) for r in outbox.rounds()] == [(1, "finished")]
    assert [b.sha256 for b in outbox.due(NOW.timestamp() + 1e9)] == [sha]
    assert not list(outbox.work.iterdir())                      # partial work removed
    assert outbox.start_round(NOW, NOW) == 2


def test_a_decided_row_whose_file_did_not_move_is_settled(tmp_path):
    outbox = Outbox(tmp_path, "cu")
    number = outbox.start_round(NOW, NOW)
    sha = outbox.add_bundle(make_bundle(outbox.work / "b.zip", number), number, 1, {})
    # the row says acknowledged; the process died before the file moved
    outbox._db.execute("UPDATE bundles SET status = 'acknowledged' WHERE sha256 = ?", (sha,))
    outbox.close()
    outbox = Outbox(tmp_path, "cu")
    outbox.recover(keep=True)
    assert not list(outbox.folders["pending"].iterdir())
    assert (outbox.folders["acknowledged"] / f"{sha}.zip").exists()
    assert outbox.due(NOW.timestamp() + 1e9) == []


def test_a_round_left_running_is_abandoned_and_its_number_not_reused(tmp_path):
    outbox = Outbox(tmp_path, "cu")
    assert outbox.start_round(NOW, NOW) == 1
    outbox.close()
    outbox = Outbox(tmp_path, "cu")
    assert outbox.recover(keep=True) == ["round 1: abandoned (the process stopped during it)"]
    assert outbox.rounds()[0]["status"] == "abandoned"
    assert outbox.start_round(NOW, NOW) == 2


def test_a_pending_row_without_its_file_is_marked_refused_not_sent(tmp_path):
    outbox = Outbox(tmp_path, "cu")
    number = outbox.start_round(NOW, NOW)
    sha = outbox.add_bundle(make_bundle(outbox.work / "b.zip", number), number, 1, {})
    (outbox.folders["pending"] / f"{sha}.zip").unlink()
    notes = outbox.recover(keep=True)
    assert any("file missing" in note for note in notes)
    assert outbox.counts()["refused"] == 1


def test_refused_keeps_the_reason_beside_the_bundle(tmp_path):
    outbox = Outbox(tmp_path, "cu")
    number = outbox.start_round(NOW, NOW)
    sha = outbox.add_bundle(make_bundle(outbox.work / "b.zip", number), number, 1, {"x": 1})
    outbox.refused(sha, "measurements.jsonl: SHA-256 mismatch")
    assert (outbox.folders["refused"] / f"{sha}.zip").exists()
    assert "mismatch" in (outbox.folders["refused"] / f"{sha}.why").read_text()
    assert outbox.rounds()[0]["bundle"] == "refused"


def test_files_that_are_not_a_campaign_state_are_refused_untouched(tmp_path):
    state = tmp_path / "a"
    state.mkdir()
    (state / "campaign.sqlite3").write_bytes(b"not a database at all")
    with pytest.raises(OutboxError, match="not an SQLite database"):
        Outbox(state, "cu")
    assert (state / "campaign.sqlite3").read_bytes() == b"not a database at all"
    other = tmp_path / "b"
    other.mkdir()
    db = sqlite3.connect(other / "campaign.sqlite3")
    db.execute("CREATE TABLE something (x)")
    db.commit()
    db.close()
    with pytest.raises(OutboxError, match="not a campaign's state"):
        Outbox(other, "cu")
    Outbox(tmp_path / "c", "cu").close()
    with pytest.raises(OutboxError, match="belongs to campaign 'cu', not 'de'"):
        Outbox(tmp_path / "c", "de")
    with pytest.raises(OutboxError, match="no campaign has run"):
        Outbox(tmp_path / "d", "cu", read_only=True)


def test_the_plan_survives_a_restart_and_is_redone_when_the_config_changes(tmp_path):
    import random

    import yaml

    from sentinelle.observatory.access.campaign import config as c
    from sentinelle.observatory.access.campaign.loop import Campaign
    from tests.observatory.access.test_probe_campaign_config import base, write

    data = base(tmp_path)
    path = write(tmp_path, data)
    clock = [NOW]

    def planned(seed: int) -> tuple[dt.datetime, dt.datetime]:
        campaign = Campaign(c.load(path), rng=random.Random(seed), clock=lambda: clock[0])
        campaign.open()
        try:
            return campaign.planned()
        finally:
            campaign.close()
    first = planned(1)
    assert first[0] == NOW and NOW <= first[1] <= NOW + dt.timedelta(minutes=10)
    clock[0] = NOW + dt.timedelta(minutes=3)
    assert planned(2) == first                 # a restart keeps the plan (another seed)
    data["schedule"]["jitter"] = "0s"
    path.write_text(yaml.safe_dump(data))
    assert planned(3) == (clock[0], clock[0])  # edited config: planned again, under it
