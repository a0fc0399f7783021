"""Reading and checking a deploy/systemd unit (used by the deploy tests of the live routing
monitor, the probe's control helper and the probe campaign): its command line as systemd
expands it, and systemd's own verdict on the file."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def env_values(env: Path) -> dict[str, str]:
    """NAME=value lines of a deploy/*.env.example file (comments and blanks skipped)."""
    return dict(line.partition("=")[::2] for line in env.read_text().splitlines()
                if line.strip() and not line.startswith("#"))


def unit_argv(unit: Path, env: Path) -> list[str]:
    """The unit's ExecStart= with the environment file's values: systemd splits an unbraced
    $VAR on whitespace, as the environment files' comments say."""
    values = env_values(env)
    line = next(x for x in unit.read_text().splitlines() if x.startswith("ExecStart="))
    argv: list[str] = []
    for arg in shlex.split(line.removeprefix("ExecStart=")):
        if arg.startswith("$") and not arg.startswith("${"):
            argv += values[arg[1:]].split()
        else:
            argv.append(arg)
    return argv


def assert_systemd_accepts(unit: Path, tmp_path: Path) -> None:
    """`systemd-analyze verify` finds nothing wrong with ``unit``; skipped without systemd,
    failed in CI (where .ci/run installs it)."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        if os.environ.get("CI") == "true":
            pytest.fail("systemd-analyze is missing (Debian: systemd)")
        pytest.skip("systemd-analyze is not installed")
    # verify wants the program to exist: point ExecStart at this venv's sentinelle
    copy = tmp_path / unit.name
    copy.write_text(unit.read_text().replace("/opt/sentinelle/bin/sentinelle",
                                             str(Path(sys.executable).parent / "sentinelle")))
    result = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{unit.name}:" not in result.stdout + result.stderr
