"""The campaign's systemd unit, environment file and example config: the unit runs a command
line the CLI accepts, the example config loads (its files put in place) and names the unit's
credentials and state directory, and systemd accepts the unit."""

from __future__ import annotations

from pathlib import Path

import yaml

from sentinelle.evidence import keys
from sentinelle.observatory.access import cli
from sentinelle.observatory.access.campaign import config as c
from tests.observatory.systemd_units import assert_systemd_accepts, unit_argv
from tests.paths import ROOT

UNIT = ROOT / "deploy" / "systemd" / "sentinelle-probe-campaign.service"
ENV = ROOT / "deploy" / "probe-campaign.env.example"
EXAMPLE = ROOT / "deploy" / "probe-campaign.example.yaml"
CREDENTIALS = "/run/credentials/sentinelle-probe-campaign.service/"


def test_the_unit_runs_a_command_line_the_cli_accepts():
    argv = unit_argv(UNIT, ENV)
    assert argv[:3] == ["/opt/sentinelle/bin/sentinelle", "probe", "campaign"]
    args = cli.build_parser().parse_args(argv[2:])
    assert args.config == "/etc/sentinelle/probe-campaign.yaml"
    assert not (args.once or args.drain or args.check or args.status)   # long-running
    text = UNIT.read_text()
    for setting in ("DynamicUser=yes", "StateDirectory=sentinelle-probe-campaign",
                    "NoNewPrivileges=true", "ProtectSystem=strict", "KillSignal=SIGTERM",
                    "RestartPreventExitStatus=2", "UMask=0077"):
        assert setting in text, setting
    assert "token" not in " ".join(argv).lower()          # no secret on the command line


def test_the_example_config_loads_and_matches_the_unit(tmp_path):
    data = yaml.safe_load(EXAMPLE.read_text())
    unit = UNIT.read_text()
    # the files it names are the unit's credentials and state directory
    for key in (data["control"]["token_file"], data["platform"]["token_file"],
                data["sign_key"]):
        assert key.startswith(CREDENTIALS)
        assert f"LoadCredential={key.removeprefix(CREDENTIALS)}:" in unit
    assert data["state_dir"] == "/var/lib/sentinelle-probe-campaign"
    # with its files in place, the loader accepts every key it uses
    def local(path: str, text: str = "x\n", mode: int = 0o600) -> str:
        target = tmp_path / Path(path).name
        target.write_text(text)
        target.chmod(mode)
        return str(target)
    data["lists"] = [local(p, "url\nhttps://example.org/\n") for p in data["lists"]]
    data["control"]["token_file"] = local(data["control"]["token_file"], "t0ken-control\n")
    data["platform"]["token_file"] = local(data["platform"]["token_file"], "t0ken-platform\n")
    data["sign_key"] = str(keys.generate(tmp_path / "probe.key")[0])
    data["state_dir"] = str(tmp_path / "state")
    path = tmp_path / "campaign.yaml"
    path.write_text(yaml.safe_dump(data))
    config = c.load(path)
    assert config.name == "cu-national-weekly" and len(config.lists) == 2
    assert config.schedule.quiet is not None and config.control_pins
    assert config.platform_token() == "t0ken-platform"
    assert cli.main(["campaign", "--config", str(path), "--check"]) == 0


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    assert_systemd_accepts(UNIT, tmp_path)
