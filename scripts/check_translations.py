#!/usr/bin/env python3
"""Fail when a translation catalogue of Sentinelle is incomplete.

English, French and Spanish must be complete at all times. This script runs
``msgfmt --check --statistics`` on every ``locale/*/LC_MESSAGES/django.po`` under
``src/sentinelle`` (or on the catalogues named on the command line) and exits non-zero,
naming the file, when a message is untranslated or fuzzy, or when msgfmt rejects the file
(for example a placeholder such as ``%(ref)s`` lost in translation).

Standard library only; needs GNU gettext's ``msgfmt`` on the PATH.

    python3 scripts/check_translations.py            # every catalogue of the package
    python3 scripts/check_translations.py a.po b.po  # just these
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess  # noqa: S404 - runs msgfmt only, with a fixed argument list
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "sentinelle"
PATTERN = "locale/*/LC_MESSAGES/django.po"

# msgfmt --statistics prints e.g.
# "358 translated messages, 1 fuzzy translation, 1 untranslated message."
COUNT = re.compile(r"(\d+) (translated|fuzzy|untranslated) (?:message|translation)s?")


@dataclass
class Result:
    path: Path
    translated: int = 0
    fuzzy: int = 0
    untranslated: int = 0
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and self.fuzzy == 0 and self.untranslated == 0 and self.translated > 0

    def describe(self) -> str:
        counts = (f"{self.translated} translated, {self.fuzzy} fuzzy, "
                  f"{self.untranslated} untranslated")
        if not self.error:
            return f"{self.path}: {counts}"
        if self.translated or self.fuzzy or self.untranslated:
            return f"{self.path}: {counts}; {self.error}"
        return f"{self.path}: {self.error}"


def catalogues(package: Path = PACKAGE) -> list[Path]:
    return sorted(package.glob(PATTERN))


def header_is_fuzzy(path: Path) -> bool:
    """True when the comments just before the first ``msgid ""`` carry the fuzzy flag."""
    comments: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            comments.append(line)
        elif line.startswith('msgid ""'):
            return any(c.startswith("#,") and "fuzzy" in c for c in comments)
        elif line.strip():
            comments = []
    return False


def check(path: Path, msgfmt: str) -> Result:
    result = Result(path)
    # The C locale keeps msgfmt's report in English, whatever the user's locale.
    env = {**os.environ, "LC_ALL": "C", "LANGUAGE": "C"}
    proc = subprocess.run(  # noqa: S603 - fixed command, the path is a file name
        [msgfmt, "--check", "--statistics", "-o", os.devnull, str(path)],
        capture_output=True, text=True, env=env, check=False)
    output = (proc.stderr + proc.stdout).strip()
    if proc.returncode != 0:
        result.error = "msgfmt failed:\n" + (output or f"exit status {proc.returncode}")
        return result
    for number, kind in COUNT.findall(output):
        setattr(result, kind, int(number))
    if result.translated == 0 and result.fuzzy == 0 and result.untranslated == 0:
        result.error = f"unexpected msgfmt output: {output!r}"
    elif header_is_fuzzy(path):
        # msgfmt does not count the header, but drops it when fuzzy: the catalogue then
        # loses its charset and plural forms.
        result.error = "the header entry is marked fuzzy"
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path,
                        help=f"catalogues to check (default: {PACKAGE}/{PATTERN})")
    args = parser.parse_args(argv)

    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:
        print("check_translations: msgfmt not found; install GNU gettext", file=sys.stderr)
        return 2
    files = args.files or catalogues()
    if not files:
        print(f"check_translations: no catalogue matches {PACKAGE}/{PATTERN}", file=sys.stderr)
        return 1

    failed = []
    for path in files:
        result = check(path, msgfmt) if path.is_file() else Result(path, error="no such file")
        print(("ok   " if result.ok else "FAIL ") + result.describe())
        if not result.ok:
            failed.append(result)
    if failed:
        names = ", ".join(str(r.path) for r in failed)
        print(f"check_translations: incomplete or invalid catalogue(s): {names}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
