"""The campaign config (probe campaign --config): every error names its key path, tokens come
only from files their owner alone can read; and the schedule: interval steps, jitter bounds,
quiet hours (UTC, a named zone, across midnight), missed rounds not caught up."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pytest
import yaml

from sentinelle.evidence import keys
from sentinelle.observatory.access import cli
from sentinelle.observatory.access.campaign import config as c
from sentinelle.observatory.access.campaign.schedule import in_quiet_hours, next_round

UTC = dt.UTC


def base(tmp_path: Path) -> dict:
    (tmp_path / "cu.csv").write_text("url,category_code,notes\nhttps://example.org/,NEWS,\n")
    keys.generate(tmp_path / "probe.key")
    for name in ("control.token", "platform.token"):
        (tmp_path / name).write_text("secret-token-0123456789\n")
        (tmp_path / name).chmod(0o600)
    return {"name": "cu-weekly", "lists": ["cu.csv"],
            "schedule": {"interval": "6h", "jitter": "10m", "quiet_hours": "01:00-05:00"},
            "control": {"url": "https://helper.example.ch:8443", "token_file": "control.token"},
            "vantage": {"self_cc": "CU", "self_asn": 27725},
            "sign_key": "probe.key", "concurrency": 16,
            "platform": {"url": "https://sentinelle.example.int", "token_file": "platform.token"},
            "state_dir": "state"}


def write(tmp_path: Path, data) -> Path:
    path = tmp_path / "campaign.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def refused(tmp_path: Path, data) -> str:
    with pytest.raises(c.ConfigError) as caught:
        c.load(write(tmp_path, data))
    return str(caught.value)


def test_a_good_config_resolves_paths_next_to_it(tmp_path):
    config = c.load(write(tmp_path, base(tmp_path)))
    assert config.name == "cu-weekly" and config.lists == [tmp_path / "cu.csv"]
    assert config.schedule.interval == 6 * 3600 and config.schedule.jitter == 600
    assert config.schedule.quiet == (dt.time(1), dt.time(5))
    assert config.schedule.timezone == "UTC"
    assert config.state_dir == tmp_path / "state"
    assert config.platform_token() == "secret-token-0123456789"
    assert config.self_asn == 27725 and config.concurrency == 16
    assert len(config.sha256) == 64


@pytest.mark.parametrize(("change", "named"), [
    (lambda d: d.update(nmae="x"), "nmae"),
    (lambda d: d["schedule"].update(intervall="6h"), "schedule.intervall"),
    (lambda d: d["platform"].update(token="inline-secret"), "platform.token"),
    (lambda d: d["control"].update(token="inline-secret"), "control.token"),
    (lambda d: d.pop("platform"), "platform: is required"),
    (lambda d: d["schedule"].pop("interval"), "schedule.interval: is required"),
    (lambda d: d.update(name="CU Weekly"), "name:"),
    (lambda d: d.update(lists=[]), "lists:"),
    (lambda d: d.update(lists=["missing.csv"]), "lists[0]: no such file"),
    (lambda d: d.update(lists=[{"file": "cu.csv"}]), "lists[0]: expected text, got a mapping"),
    (lambda d: d.update(concurrency="16"), "concurrency: expected a whole number, got text"),
    (lambda d: d.update(concurrency=0), "concurrency: must be between 1 and 1024"),
    (lambda d: d.update(schedule="6h"), "schedule: expected a mapping"),
    (lambda d: d.update(vantage=[]), "vantage: expected a mapping of keys, got a list"),
    (lambda d: d.update(probe=""), "probe: expected a mapping of keys, got text"),
    (lambda d: d["schedule"].update(interval="6 hours"), "schedule.interval:"),
    (lambda d: d["schedule"].update(interval=True), "schedule.interval: expected a duration"),
    (lambda d: d["schedule"].update(interval="30s"), "schedule.interval: must be at least"),
    (lambda d: d["schedule"].update(jitter="7h"), "schedule.jitter: must be shorter"),
    (lambda d: d["schedule"].update(quiet_hours="1-5"), "schedule.quiet_hours:"),
    (lambda d: d["schedule"].update(quiet_hours="25:00-05:00"), "schedule.quiet_hours:"),
    (lambda d: d["schedule"].update(timezone="Mars/Olympus"), "schedule.timezone:"),
    (lambda d: d["control"].update(url="ftp://helper"), "control.url:"),
    (lambda d: d["control"].update(url="http://helper:8080", pin="sha256//AAAA"),
     "control.pin"),
    (lambda d: d["vantage"].update(self_cc="CUB"), "vantage.self_cc:"),
    (lambda d: d["vantage"].update(self_asn=-1), "vantage.self_asn:"),
    (lambda d: d["vantage"].update(bind="not-an-ip"), "vantage.bind:"),
    (lambda d: d["platform"].update(ca_file="nope.pem"), "platform.ca_file: no such file"),
    (lambda d: d.update(probe={"timeout": "fast"}), "probe.timeout:"),
    (lambda d: d.update(probe={"resolver": "1.2.3.4:99999"}), "probe.resolver:"),
    (lambda d: d.update(keep_acknowledged="yes"), "keep_acknowledged: expected true or false"),
])
def test_each_error_names_its_key(tmp_path, change, named):
    data = base(tmp_path)
    change(data)
    message = refused(tmp_path, data)
    assert named in message and str(tmp_path / "campaign.yaml") in message


@pytest.mark.parametrize(("text", "named"), [
    ("name: [unclosed\n", "not valid YAML at line"),
    ("- a list\n- not a mapping\n", "expected a mapping of keys, got a list"),
    ("", "expected a mapping of keys, got nothing"),
    (b"\xff\xfe bad bytes", "not UTF-8"),
    ("name: x\nconcurrency: " + "9" * 5000 + "\n", "a value cannot be read"),
    ("name: !!python/object:os.system x\n", "not valid YAML at line 1"),
    ("a: &a [*a, *a]\n" + "b: " + "[" * 5000, "nested too deeply"),
])
def test_malformed_files_are_refused(tmp_path, text, named):
    path = tmp_path / "campaign.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(c.ConfigError, match=named.replace("[", r"\[")):
        c.load(path)


def test_a_huge_file_is_refused_unread(tmp_path):
    path = write(tmp_path, "# " + "x" * (c.MAX_BYTES + 10) + "\n")
    with pytest.raises(c.ConfigError, match="larger than 256 KiB"):
        c.load(path)


def test_a_token_file_others_can_read_is_refused(tmp_path):
    config = c.load(write(tmp_path, base(tmp_path)))
    (tmp_path / "platform.token").chmod(0o644)
    with pytest.raises(c.ConfigError, match=r"platform.token_file: .* readable by others \(mode "
                                            r"0644\).*chmod 600"):
        config.platform_token()
    (tmp_path / "platform.token").chmod(0o600)
    (tmp_path / "platform.token").write_text("two words\n")
    with pytest.raises(c.ConfigError, match="platform.token_file: .* one token on one line"):
        config.platform_token()
    (tmp_path / "platform.token").write_text("")
    with pytest.raises(c.ConfigError, match="one token"):
        config.platform_token()


def test_secrets_are_read_when_used_not_when_loaded(tmp_path):
    """--status runs outside the systemd unit, where its credentials do not exist."""
    data = base(tmp_path)
    data["platform"]["token_file"] = "/run/credentials/x.service/platform-token"
    config = c.load(write(tmp_path, data))
    with pytest.raises(c.ConfigError, match="platform.token_file: /run/credentials/x.service/"
                                            "platform-token: No such file"):
        config.platform_token()


def test_check_validates_the_config_and_tokens(tmp_path, capsys):
    path = write(tmp_path, base(tmp_path))
    assert cli.main(["campaign", "--config", str(path), "--check"]) == 0
    out = capsys.readouterr().out
    assert "cu-weekly" in out and "01:00-05:00 UTC" in out
    (tmp_path / "control.token").chmod(0o640)
    assert cli.main(["campaign", "--config", str(path), "--check"]) == 2
    err = capsys.readouterr().err
    assert "control.token_file" in err and "chmod 600" in err and err[-1] == "\n"
    (tmp_path / "control.token").chmod(0o600)
    (tmp_path / "probe.key").write_text("not a key\n")
    assert cli.main(["campaign", "--config", str(path), "--check"]) == 2
    assert "sign_key: " in capsys.readouterr().err
    assert cli.main(["campaign", "--config", str(tmp_path / "none.yaml"), "--check"]) == 2
    assert "none.yaml" in capsys.readouterr().err
    assert cli.main(["campaign", "--config", str(path), "--once", "--drain"]) == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_every_campaign_option_has_help():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    campaign = sub.choices["campaign"]
    for action in campaign._actions:
        assert action.help, action.dest


@pytest.mark.parametrize(("text", "seconds"), [("6h", 21600), ("30m", 1800), ("1h30m", 5400),
                                               ("90s", 90), ("2d", 172800), (600, 600)])
def test_durations(text, seconds):
    assert c.parse_duration(text, "x") == seconds


# ---- the schedule --------------------------------------------------------------------------

def schedule(**changes) -> c.Schedule:
    values = {"interval": 6 * 3600, "jitter": 600, "quiet": None, "timezone": "UTC"}
    values.update(changes)
    return c.Schedule(**values)


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_rounds_follow_the_interval_with_jitter_within_bounds():
    rng = random.Random(4)
    now = at("2026-12-02 08:00")
    plan = next_round(None, now, schedule(), rng)
    assert plan.nominal == now and now <= plan.at <= now + dt.timedelta(seconds=600)
    delays = []
    last = plan.nominal
    for _ in range(200):
        plan = next_round(last, last, schedule(), rng)
        # the series steps by the interval from the nominal time: jitter never accumulates
        assert plan.nominal == last + dt.timedelta(hours=6)
        delays.append((plan.at - plan.nominal).total_seconds())
        last = plan.nominal
    assert min(delays) >= 0 and max(delays) <= 600
    assert max(delays) - min(delays) > 300            # it does spread the starts
    # deterministic for a seed
    assert next_round(None, now, schedule(), random.Random(9)) == next_round(
        None, now, schedule(), random.Random(9))


def test_missed_rounds_are_not_caught_up():
    now = at("2026-12-02 20:00")
    plan = next_round(at("2026-12-01 08:00"), now, schedule(jitter=0), random.Random(1))
    assert plan.nominal == now and plan.at == now


def test_quiet_hours_move_a_start_to_their_end_plus_jitter():
    quiet = schedule(quiet=(dt.time(1), dt.time(5)))
    rng = random.Random(2)
    plan = next_round(at("2026-12-01 20:30"), at("2026-12-02 00:00"), quiet, rng)
    assert plan.nominal == at("2026-12-02 02:30")
    assert at("2026-12-02 05:00") <= plan.at <= at("2026-12-02 05:10")
    assert not in_quiet_hours(plan.at, quiet)
    # across midnight, 22:00-06:00: 23:00 today ends tomorrow at 06:00
    night = schedule(quiet=(dt.time(22), dt.time(6)), jitter=0)
    plan = next_round(at("2026-12-02 17:00"), at("2026-12-02 17:00"), night, rng)
    assert plan.at == at("2026-12-03 06:00")
    plan = next_round(at("2026-12-02 20:00"), at("2026-12-02 20:00"), night, rng)
    assert plan.at == at("2026-12-03 06:00")     # 02:00 is quiet too, same day's end
    assert not in_quiet_hours(at("2026-12-02 21:59"), night)


def test_quiet_hours_in_a_named_zone():
    # 01:00-05:00 in Havana (UTC-5 in December) is 06:00-10:00 UTC
    havana = schedule(quiet=(dt.time(1), dt.time(5)), timezone="America/Havana", jitter=0)
    assert in_quiet_hours(at("2026-12-02 07:00"), havana)
    assert not in_quiet_hours(at("2026-12-02 02:00"), havana)
    plan = next_round(at("2026-12-02 01:00"), at("2026-12-02 01:00"), havana, random.Random(0))
    assert plan.at == at("2026-12-02 10:00")
