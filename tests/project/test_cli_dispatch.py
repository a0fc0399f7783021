"""The measuring tools run without the platform: no Django, no settings, no database."""

from __future__ import annotations

import subprocess
import sys

import pytest

CHECK = """
import sys
from sentinelle import cli
try:
    cli.main(["sentinelle", *sys.argv[1:]])
except SystemExit as exit:
    code = exit.code
print("django" in sys.modules, code, file=sys.stderr)
"""


@pytest.mark.parametrize("argv", [["evidence", "verify", "/nonexistent.zip"],
                                  ["evidence", "--help"]])
def test_plain_groups_do_not_load_django(argv):
    completed = subprocess.run([sys.executable, "-c", CHECK, *argv], capture_output=True,
                               text=True, timeout=60,
                               env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": ""})
    last = completed.stderr.strip().splitlines()[-1]
    assert last.startswith("False"), completed.stderr


def test_submit_goes_to_the_management_command(monkeypatch):
    from sentinelle import cli

    seen = {}

    def fake_execute(argv):
        seen["argv"] = argv

    import django.core.management

    monkeypatch.setattr(django.core.management, "execute_from_command_line", fake_execute)
    cli.main(["sentinelle", "probe", "submit", "b.zip", "--user", "fp-cu"])
    assert seen["argv"] == ["sentinelle", "submit_bundle", "b.zip", "--user", "fp-cu",
                            "--expect", "probe"]


def test_a_bad_setting_is_one_line_naming_it_not_a_traceback(tmp_path):
    key = tmp_path / "secret_key"
    key.write_bytes(b"\x8f\xb0" * 24)
    completed = subprocess.run(
        [sys.executable, "-c", "from sentinelle import cli; cli.main(['sentinelle', 'check'])"],
        capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "SENTINELLE_DATA_DIR": str(tmp_path),
             "SENTINELLE_SECRET_KEY_FILE": str(key)})
    assert completed.returncode == 1
    assert "Traceback" not in completed.stderr
    assert completed.stderr.strip() == (
        f"sentinelle: configuration: SENTINELLE_SECRET_KEY_FILE='{key}' is not a text file "
        "(UTF-8): give a text secret, or copy a generated key file into the data directory "
        "instead")
