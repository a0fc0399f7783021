"""Run the fuzz targets: ``python fuzz/run.py [--seconds N] [--target NAME ...]``.

Each target replays its seed corpus and the 1 MB hostile shapes, then mutates seeds for the
given time, and prints one summary line. Exit status 1 when any target had a failure (an
unexpected exception, a hang, an out-of-memory or a crash); failing inputs are saved to
fuzz/corpus/<name>/crashes/.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fuzz import harness  # noqa: E402 - after the path is set
from fuzz.targets import _postgres  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60, help="per target (default 60)")
    parser.add_argument("--target", action="append", choices=harness.target_names(),
                        help="a target to run (repeatable; default: all)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the mutator")
    parser.add_argument("--timeout", type=float, default=harness.TIMEOUT,
                        help="seconds per input before it counts as a hang")
    parser.add_argument("--memory-mib", type=int, default=harness.MEMORY_CAP // harness.MiB,
                        help="memory cap over the baseline, MiB")
    parser.add_argument("--no-save", action="store_true", help="do not save failing inputs")
    parser.add_argument("--database-url", metavar="URL",
                        help="postgres://… : the HTTP targets post into PostgreSQL databases "
                             "made on that server (default: DATABASE_URL when it is a postgres "
                             "URL, else SQLite files); sqlite: forces SQLite")
    args = parser.parse_args(argv)
    if args.database_url:
        # Read by the children (fuzz/targets/_postgres.py), which inherit the environment.
        os.environ[_postgres.URL_VARIABLE] = args.database_url
    failed = False
    for name in args.target or harness.target_names():
        result = harness.campaign(harness.load_target(name), seconds=args.seconds,
                                  seed=args.seed, timeout=args.timeout,
                                  memory_cap=args.memory_mib * harness.MiB,
                                  save=not args.no_save)
        print(result.summary(), flush=True)
        for failure in result.failures[:10]:
            print(harness.describe(failure), flush=True)
        failed = failed or bool(result.failures)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
