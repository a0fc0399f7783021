"""Files left by OONI imports killed with SIGKILL half way (issue 20, point 1).

    .venv/bin/python bench/files_kill.py --kills 3
    PYTHONPATH=/path/to/other/checkout/src .venv/bin/python bench/files_kill.py --kills 3

A platform of its own in a temporary directory (SQLite, or DATABASE_URL's database, which is
migrated: give it an empty one), the code of the `sentinelle` package found on the Python path.
Each round imports `--measurements` OONI measurements (one report and one evidence file each)
and kills the import once a seeded random share of its files exist; the files stay for the next
round, as on a server. It prints, after each kill, the files under MEDIA_ROOT, how many are at a
final name (evidence/…: a name a row could hold) and how many pending (.pending/…), and the
rows; at the end, when the code has it, what `sentinelle files check --repair --grace 0` leaves.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MEASUREMENT = (ROOT / "tests" / "fixtures" / "probe" / "ooni-spec-examples"
               / "ts-017-web-connectivity.measurement.json")
COUNTS = ("from sentinelle.incidents.models import Evidence, Incident; "
          "print(Incident.objects.count(), Evidence.objects.count())")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--measurements", type=int, default=400)
    parser.add_argument("--seed", type=int, default=20)
    options = parser.parse_args()
    randomness = random.Random(options.seed)
    with tempfile.TemporaryDirectory() as scratch:
        data = Path(scratch) / "data"
        data.mkdir()
        media = data / "media"
        env = {k: v for k, v in os.environ.items() if not k.startswith("SENTINELLE_")}
        env.update({"SENTINELLE_DATA_DIR": str(data), "DJANGO_SETTINGS_MODULE":
                    "sentinelle.settings", "PYTHONPATH": os.pathsep.join(sys.path)})

        def sentinelle(*args: str, check: bool = True) -> subprocess.CompletedProcess:
            done = subprocess.run([sys.executable, "-m", "sentinelle.cli", *args], env=env,
                                  capture_output=True, text=True, timeout=600)
            if check and done.returncode:
                sys.exit(done.stderr[-2000:])
            return done

        def files() -> list[Path]:
            return [p for p in media.rglob("*") if p.is_file()] if media.exists() else []

        sentinelle("migrate", "-v0")
        source = Path(scratch) / "measurements.jsonl"
        example = json.loads(MEASUREMENT.read_text())
        with source.open("wb") as out:
            for number in range(options.measurements):
                out.write(json.dumps({**example, "input": f"https://site{number}.example/"})
                          .encode() + b"\n")
        for round_ in range(1, options.kills + 1):
            already = len(files())
            target = already + randomness.randint(options.measurements // 10,
                                                  options.measurements * 9 // 10)
            child = subprocess.Popen([sys.executable, "-m", "sentinelle.cli", "import",
                                      str(source), "--state", "CU"], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            while len(files()) < target and child.poll() is None:
                time.sleep(0.01)
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
            left = files()
            pending = sum(1 for p in left if p.relative_to(media).parts[0] == ".pending")
            # The last line: Django's shell may first say what it imported.
            rows = sentinelle("shell", "-c", COUNTS).stdout.strip().splitlines()[-1].split()
            print(f"kill {round_}: {len(left)} files under MEDIA_ROOT ({len(left) - pending} at a "
                  f"final name, {pending} pending); reports {rows[0]}, evidence rows {rows[1]}")
        repaired = sentinelle("files", "check", "--repair", "--grace", "0", check=False)
        if "Unknown command" in repaired.stderr:
            print("no 'sentinelle files check' in this code: nothing removes them")
        else:
            print(f"after 'sentinelle files check --repair --grace 0': {len(files())} files "
                  f"under MEDIA_ROOT")


if __name__ == "__main__":
    main()
