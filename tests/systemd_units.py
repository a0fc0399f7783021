"""Checking a deploy/systemd unit with systemd itself (used by the deploy tests of the live
routing monitor and of the probe's control helper)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


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
