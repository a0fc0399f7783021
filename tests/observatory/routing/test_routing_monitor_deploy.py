"""The documented systemd unit and environment file for the live routing monitor hold together:
the command line they make is one `sentinelle routing monitor` accepts, and systemd itself finds
nothing wrong with the unit (deploy/systemd/sentinelle-routing-monitor.service)."""

from __future__ import annotations

import os
from pathlib import Path

from sentinelle.observatory.routing.cli import build_parser
from tests.observatory.systemd_units import assert_systemd_accepts, unit_argv
from tests.paths import ROOT

UNIT = ROOT / "deploy" / "systemd" / "sentinelle-routing-monitor.service"
ENV = ROOT / "deploy" / "routing-monitor.env.example"


def test_the_unit_runs_a_command_line_the_monitor_accepts() -> None:
    argv = unit_argv(UNIT, ENV)
    assert argv[:3] == ["/opt/sentinelle/bin/sentinelle", "routing", "monitor"]
    args = build_parser().parse_args(argv[2:])
    assert args.state_dir == "/var/lib/sentinelle/routing"
    assert any(s.startswith("bmp:") for s in args.source)
    assert any(a.startswith("webhook:") for a in args.alert)
    # secrets are never on the command line (ps shows it to every local user)
    assert not any("secret" in a.lower() or "token" in a.lower() for a in argv)


def test_the_example_destinations_and_sources_parse() -> None:
    from sentinelle.observatory.routing.live.destinations import parse_destination
    from sentinelle.observatory.routing.live.sources import parse_source

    args = build_parser().parse_args(unit_argv(UNIT, ENV)[2:])
    for spec in args.source:
        parse_source(spec)
    os.environ.setdefault("SENTINELLE_WEBHOOK_SECRET", "x" * 32)
    for spec in args.alert:
        if spec.startswith("platform:"):
            continue  # needs the signing key file, checked by the platform tests
        parse_destination(spec, args)


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    assert_systemd_accepts(UNIT, tmp_path)
