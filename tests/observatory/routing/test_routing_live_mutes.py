"""Mutes of live routing alerts (issue 14, part A): store, audit chain, CLI."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sentinelle.observatory.routing.live import mute_cli
from sentinelle.observatory.routing.live.mutes import MAX_MUTE_DAYS, MuteError, MuteStore

NOW = 1_800_000_000.0
HOUR = 3600.0


@pytest.fixture()
def store(tmp_path) -> MuteStore:
    return MuteStore(tmp_path)


# ------------------------------------------------------------------------- adding


def test_add_and_match(store):
    by_prefix = store.add("190.6.64.0/19", None, NOW + HOUR, "maintenance", "noc", now=NOW)
    by_type = store.add(None, "route-leak", NOW + 2 * HOUR, "known leak", "noc", now=NOW)
    both = store.add("10.0.0.0/8", "E|0", NOW + HOUR, "lab", "noc", now=NOW)
    assert store.matching("S|0", "190.6.70.0/24", NOW).id == by_prefix.id
    assert store.matching("E|0", "190.6.64.0/19", NOW).id == by_prefix.id
    assert store.matching("E|0", "190.6.0.0/16", NOW) is None  # less specific: not covered
    assert store.matching("route-leak", "8.8.8.0/24", NOW).id == by_type.id
    assert store.matching("E|0", "10.1.0.0/16", NOW).id == both.id
    assert store.matching("S|0", "10.1.0.0/16", NOW) is None
    assert store.matching("E|0", "2001:db8::/32", NOW) is None
    # expired mutes cover nothing, even before poll() sweeps them
    assert store.matching("S|0", "190.6.70.0/24", NOW + HOUR + 1) is None
    assert {m.id for m in store.list()} == {by_prefix.id, by_type.id, both.id}


@pytest.mark.parametrize(("kwargs", "field", "text"), [
    ({"prefix": None, "type": None}, "prefix", "prefix or a type"),
    ({"until": NOW - 1}, "until", "in the past"),
    ({"until": NOW + (MAX_MUTE_DAYS + 1) * 86400}, "until", "90 days"),
    ({"reason": "  "}, "reason", "reason"),
    ({"by": ""}, "by", "who"),
    ({"prefix": "190.6.64.1/19"}, "prefix", "host bits"),
    ({"prefix": "not-a-prefix"}, "prefix", "not a prefix"),
    ({"type": "hijack"}, "type", "E|0"),
])
def test_add_refuses_bad_input_and_writes_nothing(store, tmp_path, kwargs, field, text):
    args = {"prefix": "190.6.64.0/19", "type": None, "until": NOW + HOUR,
            "reason": "maintenance", "by": "noc"} | kwargs
    with pytest.raises(MuteError, match=text) as info:
        store.add(args["prefix"], args["type"], args["until"], args["reason"], args["by"],
                  now=NOW)
    assert info.value.field == field
    assert store.list() == []
    assert not (tmp_path / "audit.jsonl").exists() or (tmp_path / "audit.jsonl").read_text() == ""


def test_mutes_persist_and_remove(tmp_path):
    store = MuteStore(tmp_path)
    mute = store.add("190.6.64.0/19", None, NOW + HOUR, "maintenance", "noc", now=NOW)
    again = MuteStore(tmp_path)
    assert [m.to_dict() for m in again.list()] == [mute.to_dict()]
    again.remove(mute.id, "alice", "finished early", now=NOW + 60)
    assert MuteStore(tmp_path).list() == []
    with pytest.raises(MuteError, match="no mute"):
        again.remove(mute.id, "alice", "twice", now=NOW + 61)
    data = json.loads((tmp_path / "mutes.json").read_text())
    assert data["mutes"] == []


# ------------------------------------------------------------------------- poll


def test_poll_reports_changes_made_by_another_process(tmp_path):
    monitor = MuteStore(tmp_path)
    assert monitor.poll(NOW) == []
    cli = MuteStore(tmp_path)
    mute = cli.add("190.6.64.0/19", "E|0", NOW + HOUR, "maintenance", "noc", now=NOW)
    events = monitor.poll(NOW + 1)
    assert [(e.event, e.type, e.alert_id, e.prefix) for e in events] == [
        ("muted", "mute", f"mute:{mute.id}", "190.6.64.0/19")]
    assert events[0].details["reason"] == "maintenance"
    assert events[0].details["by"] == "noc"
    assert events[0].details["until"] == NOW + HOUR
    # the monitor's view is refreshed too
    assert monitor.matching("E|0", "190.6.64.0/19", NOW + 1).id == mute.id
    assert monitor.poll(NOW + 2) == []
    cli.remove(mute.id, "alice", "done", now=NOW + 3)
    events = monitor.poll(NOW + 4)
    assert [(e.event, e.alert_id, e.details["action"]) for e in events] == [
        ("unmuted", f"mute:{mute.id}", "remove")]
    assert monitor.matching("E|0", "190.6.64.0/19", NOW + 4) is None


def test_expiry_is_written_once_and_reported(tmp_path):
    one, two = MuteStore(tmp_path), MuteStore(tmp_path)
    mute = one.add(None, "S|0", NOW + HOUR, "noise", "noc", now=NOW)
    assert [e.event for e in one.poll(NOW)] == ["muted"]
    assert [e.event for e in two.poll(NOW)] == ["muted"]
    events = one.poll(NOW + HOUR)
    assert [(e.event, e.details["action"]) for e in events] == [("unmuted", "expire")]
    assert events[0].alert_id == f"mute:{mute.id}"
    # the second process sees the same expiry, not a second one
    assert [e.details["action"] for e in two.poll(NOW + HOUR + 5)] == ["expire"]
    actions = [json.loads(line)["action"]
               for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert actions == ["add", "expire"]
    assert one.list() == [] and two.list() == []


def test_poll_position_can_be_restored(tmp_path):
    store = MuteStore(tmp_path)
    store.add(None, "S|0", NOW + HOUR, "noise", "noc", now=NOW)
    store.poll(NOW)
    position = store.position
    fresh = MuteStore(tmp_path)
    fresh.position = position
    assert fresh.poll(NOW + 1) == []


# ------------------------------------------------------------------------- audit chain


def test_audit_is_hash_chained_and_edits_are_detected(tmp_path):
    store = MuteStore(tmp_path)
    first = store.add("190.6.64.0/19", None, NOW + HOUR, "maintenance", "noc", now=NOW)
    store.add(None, "S|0", NOW + HOUR, "noise", "noc", now=NOW)
    store.remove(first.id, "alice", "done", now=NOW + 5)
    assert store.verify_audit() == []
    path = tmp_path / "audit.jsonl"
    lines = path.read_text().splitlines()
    assert len(lines) == 3
    entries = [json.loads(line) for line in lines]
    assert entries[0]["prev"] == "0" * 64
    assert entries[1]["prev"] == entries[0]["hash"]
    # someone rewrites who added the first mute
    path.write_text("\n".join([lines[0].replace('"noc"', '"mallory"'), *lines[1:]]) + "\n")
    problems = store.verify_audit()
    assert problems and "line 1" in problems[0] and "audit.jsonl" in problems[0]
    # someone deletes a line
    path.write_text("\n".join([lines[0], lines[2]]) + "\n")
    problems = store.verify_audit()
    assert problems and "line 2" in problems[0] and "prev" in problems[0]


def test_corrupted_audit_line_is_named_and_the_chain_goes_on(tmp_path):
    store = MuteStore(tmp_path)
    store.add(None, "S|0", NOW + HOUR, "noise", "noc", now=NOW)
    path = tmp_path / "audit.jsonl"
    with path.open("a") as stream:
        stream.write("{not json\n")
    assert any("line 2" in p and "JSON" in p for p in store.verify_audit())
    # poll skips the bad line (logged) instead of failing the monitor
    assert [e.event for e in MuteStore(tmp_path).poll(NOW)] == ["muted"]
    store.add(None, "E|0", NOW + HOUR, "noise", "noc", now=NOW)
    assert [p for p in store.verify_audit() if "line 3" in p] == []


# ------------------------------------------------------------------------- hand-edited files


@pytest.mark.parametrize(("text", "where"), [
    ('{"version": 1, "mutes": [\n{"id": "a"\n', "line 3"),
    ('{"version": 1, "mutes": [\n  {"id": "a1", "prefix": "10.0.0.0/8", "type": null,\n'
     '   "until": "tomorrow", "reason": "x", "by": "y", "created_at": 1}\n]}\n', "line 2"),
    ('{"version": 1, "mutes": [\n  {"id": "a1", "prefix": "10.0.0.0/8", "type": null,'
     ' "until": 1, "reason": "x", "by": "y", "created_at": 1},\n'
     '  {"id": "a2", "prefix": "10.0.0.0/33", "type": null, "until": 1, "reason": "x",'
     ' "by": "y", "created_at": 1}\n]}\n', "line 3"),
    ('[1, 2]', "line 1"),
    ('{"version": 1, "mutes": {}}', "line 1"),
    ('\xff\xfe', "UTF-8"),
])
def test_corrupted_mutes_json_is_a_clear_error(tmp_path, text, where):
    path = tmp_path / "mutes.json"
    path.write_bytes(text.encode("utf-8", "surrogateescape") if not text.startswith("\xff")
                     else b"\xff\xfe")
    with pytest.raises(MuteError) as info:
        MuteStore(tmp_path)
    assert "mutes.json" in str(info.value) and where in str(info.value)


def _entry_text(**fields) -> str:
    entry = {"id": "a1", "prefix": "10.0.0.0/8", "type": None, "until": NOW, "reason": "x",
             "by": "y", "created_at": NOW - 1} | fields
    return json.dumps({"version": 1, "mutes": [entry]})


@pytest.mark.parametrize("text", [
    # found by fuzz/targets/mutes.py: each one used to escape as a traceback
    _entry_text(reason="\udfff"),  # a lone surrogate: cannot be written back as UTF-8
    _entry_text(until=1e300),  # OverflowError when shown as a date
    '{"version": 1, "mutes": [\n{"until": ' + "9" * 5000 + "}]}",  # past int conversion
])
def test_hostile_values_in_mutes_json_are_refused(tmp_path, text):
    (tmp_path / "mutes.json").write_text(text)
    with pytest.raises(MuteError, match=r"mutes\.json: line \d"):
        MuteStore(tmp_path)


def test_hostile_audit_lines_are_reported_not_raised(tmp_path):
    store = MuteStore(tmp_path)
    store.add(None, "S|0", NOW + HOUR, "noise", "noc", now=NOW)
    path = tmp_path / "audit.jsonl"
    line = json.loads(path.read_text())
    with path.open("a") as stream:
        stream.write(json.dumps(line | {"reason": "\udfff"}) + "\n")
        stream.write(json.dumps(line | {"at": 1e300}) + "\n")
        stream.write('{"seq": ' + "9" * 5000 + "}\n")
    problems = store.verify_audit()
    assert [p.split(": ")[1] for p in problems[:5]] == ["line 2", "line 2", "line 3",
                                                        "line 3", "line 4"]
    # and mutes.json's audit_head says no writer added them
    assert problems[5:] == [f"{path}: 3 line(s) after the last change recorded in "
                            f"{tmp_path / 'mutes.json'} (appended by hand?)"]
    # what reaches the outbox is clean text with a sane time
    assert [e.event for e in MuteStore(tmp_path).poll(NOW)] == ["muted"]


def test_corrupted_mutes_json_during_poll_keeps_the_last_good_mutes(tmp_path, caplog):
    store = MuteStore(tmp_path)
    mute = store.add(None, "S|0", NOW + HOUR, "noise", "noc", now=NOW)
    store.poll(NOW)
    (tmp_path / "mutes.json").write_text("{broken")
    os.utime(tmp_path / "mutes.json", ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    assert store.poll(NOW + 1) == []
    assert store.matching("S|0", "10.0.0.0/8", NOW + 1).id == mute.id
    assert "mutes.json" in caplog.text


def test_cutting_lines_off_the_end_of_the_audit_is_detected(tmp_path):
    store = MuteStore(tmp_path)
    kept = store.add("190.6.64.0/19", None, NOW + HOUR, "maintenance", "noc", now=NOW)
    cut = store.add(None, "S|0", NOW + HOUR, "noise", "noc", now=NOW)
    assert json.loads((tmp_path / "mutes.json").read_text())["audit_head"] == json.loads(
        (tmp_path / "audit.jsonl").read_text().splitlines()[-1])["hash"]
    assert store.verify_audit() == []
    path = tmp_path / "audit.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text(lines[0])  # the last line cut off: what is left is a valid chain
    problems = MuteStore(tmp_path).verify_audit()
    assert any("cut off" in p and "audit.jsonl" in p for p in problems), problems
    # the mute whose "add" went with it is not in force any more
    again = MuteStore(tmp_path)
    assert again.matching("S|0", "10.0.0.0/8", NOW + 1) is None
    assert again.matching("E|0", "190.6.64.0/24", NOW + 1).id == kept.id
    assert any(cut.id in p for p in again.verify_audit())
    # an empty audit log beside mutes.json that names a head: cut off as well
    path.write_text("")
    assert any("cut off" in p for p in MuteStore(tmp_path).verify_audit())


def test_a_mute_changed_by_hand_is_ignored_logged_once_and_reported(tmp_path, caplog):
    store = MuteStore(tmp_path)
    mute = store.add(None, "S|0", NOW + HOUR, "noise", "noc", now=NOW)
    path = tmp_path / "mutes.json"
    doc = json.loads(path.read_text())
    doc["mutes"][0]["until"] = NOW + 10 * HOUR  # extended without an audit entry
    path.write_text(json.dumps(doc))
    other = MuteStore(tmp_path)
    assert other.matching("S|0", "10.0.0.0/8", NOW + 2 * HOUR) is None
    assert other.matching("S|0", "10.0.0.0/8", NOW + 1) is None  # the change voids it whole
    assert other.list() == []
    other.poll(NOW + 1)
    other.poll(NOW + 2)
    assert caplog.text.count(mute.id) == 1
    assert any(mute.id in p and "audit" in p for p in other.verify_audit())


def test_the_90_day_limit_holds_for_a_mute_read_back(tmp_path):
    """Even a mute with a well-formed audit entry (written by a tool that skipped the checks,
    or chained by hand) covers nothing when it lasts more than 90 days."""
    from sentinelle.observatory.routing.live.mute_audit import canonical, entry_hash

    store = MuteStore(tmp_path)
    mute = store.add(None, "S|0", NOW + HOUR, "noise", "noc", now=NOW)
    until = NOW + (MAX_MUTE_DAYS + 1) * 86400
    audit = tmp_path / "audit.jsonl"
    entry = json.loads(audit.read_text())
    entry["mute"]["until"] = until
    entry["hash"] = entry_hash(entry)
    audit.write_text(canonical(entry) + "\n")
    path = tmp_path / "mutes.json"
    doc = json.loads(path.read_text())
    doc["mutes"][0]["until"] = until
    doc["audit_head"] = entry["hash"]
    path.write_text(json.dumps(doc))
    again = MuteStore(tmp_path)
    assert again.matching("S|0", "10.0.0.0/8", NOW + 1) is None
    assert any(mute.id in p and "90 days" in p for p in again.verify_audit())


# ------------------------------------------------------------------------- CLI


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="sentinelle routing")
    sub = parser.add_subparsers(dest="command", required=True)
    mute_cli.add_parser(sub)
    return parser.parse_args(argv)


def test_cli_add_list_remove(tmp_path, capsys):
    state = str(tmp_path)
    assert mute_cli.run(parse(["mute", "add", "--state-dir", state, "--prefix", "190.6.64.0/19",
                               "--for", "2h", "--reason", "maintenance", "--by", "noc"])) == 0
    out = capsys.readouterr().out
    (mute,) = MuteStore(tmp_path).list()
    assert mute.id in out and mute.by == "noc"
    assert 2 * HOUR - 60 < mute.until - time.time() <= 2 * HOUR
    assert mute_cli.run(parse(["mute", "list", "--state-dir", state])) == 0
    out = capsys.readouterr().out
    assert mute.id in out and "190.6.64.0/19" in out and "maintenance" in out
    assert mute_cli.run(parse(["mute", "list", "--state-dir", state, "--json"])) == 0
    assert json.loads(capsys.readouterr().out)[0]["id"] == mute.id
    assert mute_cli.run(parse(["mute", "remove", "--state-dir", state, mute.id,
                               "--reason", "done"])) == 0
    assert MuteStore(tmp_path).list() == []
    assert mute_cli.run(parse(["mute", "remove", "--state-dir", state, mute.id])) == 2
    assert "no mute" in capsys.readouterr().err


def test_cli_until_and_default_user(tmp_path, capsys):
    until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3 * 86400))
    assert mute_cli.run(parse(["mute", "add", "--state-dir", str(tmp_path), "--type", "S|0",
                               "--until", until, "--reason", "known"])) == 0
    (mute,) = MuteStore(tmp_path).list()
    assert mute.type == "S|0" and mute.by
    assert time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(mute.until)) == until


@pytest.mark.parametrize(("argv", "option"), [
    (["--prefix", "190.6.64.0/19", "--reason", "x"], "--for"),
    (["--prefix", "190.6.64.0/19", "--reason", "x", "--until", "2001-01-01T00:00:00Z"],
     "--until"),
    (["--prefix", "190.6.64.0/19", "--reason", "x", "--for", "91d"], "--for"),
    (["--prefix", "190.6.64.0/19", "--reason", "x", "--for", "soon"], "--for"),
    (["--prefix", "190.6.64.0/19", "--reason", "x", "--until", "next week"], "--until"),
    (["--prefix", "190.6.64.1/19", "--reason", "x", "--for", "1h"], "--prefix"),
    (["--type", "hijack", "--reason", "x", "--for", "1h"], "--type"),
    (["--reason", "x", "--for", "1h"], "--prefix"),
    (["--prefix", "190.6.64.0/19", "--for", "1h"], "--reason"),
])
def test_cli_add_errors_name_the_option(tmp_path, capsys, argv, option):
    code = mute_cli.run(parse(["mute", "add", "--state-dir", str(tmp_path), *argv]))
    err = capsys.readouterr().err
    assert code == 2
    assert option in err and "Traceback" not in err
    assert MuteStore(tmp_path).list() == []


def test_cli_corrupted_state_is_an_error_not_a_traceback(tmp_path, capsys):
    (tmp_path / "mutes.json").write_text("{oops")
    assert mute_cli.run(parse(["mute", "list", "--state-dir", str(tmp_path)])) == 2
    err = capsys.readouterr().err
    assert "mutes.json" in err and "line 1" in err


def test_cli_verify(tmp_path, capsys):
    store = MuteStore(tmp_path)
    store.add(None, "S|0", time.time() + HOUR, "noise", "noc")
    assert mute_cli.run(parse(["mute", "verify", "--state-dir", str(tmp_path)])) == 0
    path = tmp_path / "audit.jsonl"
    path.write_text(path.read_text().replace("noise", "quiet"))
    assert mute_cli.run(parse(["mute", "verify", "--state-dir", str(tmp_path)])) == 1
    assert "line 1" in capsys.readouterr().out


def test_cli_through_the_installed_command(tmp_path):
    exe = Path(sys.executable).parent / "sentinelle"
    if not exe.exists():
        pytest.skip(f"{exe} is not installed")
    add = subprocess.run([str(exe), "routing", "mute", "add", "--state-dir", str(tmp_path),
                          "--prefix", "190.6.64.0/19", "--for", "1h", "--reason", "test"],
                         capture_output=True, text=True, timeout=60)
    assert add.returncode == 0, add.stderr
    listed = subprocess.run([str(exe), "routing", "mute", "list", "--state-dir", str(tmp_path)],
                            capture_output=True, text=True, timeout=60)
    assert "190.6.64.0/19" in listed.stdout
    bad = subprocess.run([str(exe), "routing", "mute", "add", "--state-dir", str(tmp_path),
                          "--prefix", "190.6.64.0/19", "--reason", "test"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--for" in bad.stderr and "Traceback" not in bad.stderr
