"""Schemathesis against one live server (loopback) on demo data: every operation of /api/schema/,
as every role and anonymously, in all four phases between them, failing on any check that fails
(issue 19).

Identities and phases (IDENTITIES below), chosen to fit the 5-minute budget of `make test` on
the 2-core machine. The coverage phase (boundary and invalid values of every parameter, ~3,000
requests) is most of the cost, so it runs twice: with the identity that can do most, and with no
token, where it checks on every boundary input that what needs a token answers 401:

- State A's focal point (`fp-cu`): examples, coverage, fuzzing and stateful. The stateful phase
  chains calls through the schema's OpenAPI links (core/api/links.py): file a report, read,
  amend, attach evidence, read the thread and versions, change its status, download the file.
  State B's focal point (`fp-ch`) is its peer: `object_level_authorization` replays each of
  State A's reads as State B and fails if B gets what is neither public nor listed to B.
- The Secretariat analyst and the administrator: fuzzing and stateful (they move reports
  through the workflow, and the administrator follows every job).
- State B's focal point and a Council reader: fuzzing. No token: coverage and fuzzing. Every
  run with a token also checks `ignored_auth` (what needs a token refuses a missing or bad one).

Measured on the 2-core machine while other test suites ran (load average 5 to 9): 137-139 s for
the six runs on SQLite, 164 s on PostgreSQL, 2-4.5 s for the demo data (seed-demo with
DEMO_REPORTS reports, seed-observatory).
The `examples` phase finds no examples in the schema today and costs nothing; it runs so that
examples added later are tried.

Generated values per operation are few (FUZZING_EXAMPLES, STATEFUL_*): the point is that every
operation is reached in every role, and that a failure is reproducible (fixed seed, no example
database). The runs are sequential: the live server shares one database connection across its
threads on SQLite, so concurrent runs would test that, not the API. The run times are written to
schemathesis-times.txt beside the reports (and printed: -s). See EXCLUDED_CHECKS (none now) and
REFUSED_BY_DATA for the operations whose valid requests may meet a 400 the schema
cannot foresee.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess  # noqa: S404 - runs the Schemathesis CLI with fixed arguments
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.core.management import call_command

from sentinelle.core.models import ApiToken, User

pytestmark = pytest.mark.slow

# Checks left out, each with its reason; everything else of `--checks all` runs (not a server
# error, status codes, content types, response schemas and headers, methods, auth, use after
# free, resource availability, object-level authorization, positive and negative data, ...).
EXCLUDED_CHECKS: dict[str, str] = {}

# Operations whose valid requests can still be refused with a 400 for a rule that depends on the
# server's data or spans several items, which a JSON Schema cannot say: for them alone
# `positive_data_acceptance` also takes a 400 (it still fails on any other status).
REFUSED_BY_DATA = {
    # named_analysts must be the user names of existing Secretariat analysts: the public schema
    # does not list the Secretariat's staff.
    "POST /api/v1/incidents/": "named_analysts must name existing analysts",
    "PATCH /api/v1/incidents/{id}/": "named_analysts must name existing analysts",
    # A status that needs another field: `duplicate` names the report it duplicates,
    # `info_requested` says in `note` what is needed.
    "POST /api/v1/incidents/{id}/transitions/": "duplicate_of or note, as the status needs",
    # A new linked incident needs a label and two reports; one report only joins a `cluster`.
    "POST /api/v1/linked-incidents/": "label and two reports, unless a cluster is named",
    # date_to may not come before date_from (a rule between two parameters).
    "GET /api/v1/statistics/": "date_to on or after date_from",
    # A bundle is accepted only if its signature checks with a registered probe key and its
    # idempotency key is the SHA-256 of the event it carries.
    "POST /api/v1/observatory/routing/events/": "a signed bundle and its event's digest",
    # One line per category x RSIT class pair (uniqueness across a list's items by two keys).
    "POST /api/v1/summary-returns/": "a category x class pair appears once",
    # An uploaded file must hold at least one byte: OpenAPI's binary strings have no length
    # bound Schemathesis honours, and it sends empty files.
    "POST /api/v1/incidents/{id}/evidence/": "a file of at least one byte",
    "POST /api/v1/imports/": "a file of at least one byte",
    "POST /api/v1/observatory/submissions/": "a file of at least one byte",
}
POSITIVE_STATUSES = ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]

ALL_PHASES = ("examples", "coverage", "fuzzing", "stateful")
# name -> (demo account or None for no token, phases, peer whose reads are replayed)
IDENTITIES: dict[str, tuple[str | None, tuple[str, ...], str | None]] = {
    "focal-point-A": ("fp-cu", ALL_PHASES, "fp-ch"),
    "analyst": ("analyst", ("fuzzing", "stateful"), None),
    "admin": ("admin", ("fuzzing", "stateful"), None),
    "focal-point-B": ("fp-ch", ("fuzzing",), None),
    "council": ("council", ("fuzzing",), None),
    "anonymous": (None, ("coverage", "fuzzing"), None),
}
FUZZING_EXAMPLES = 5
STATEFUL_SCENARIOS = 30
STATEFUL_STEPS = 10
DEMO_REPORTS = 24


def _st() -> str:
    found = shutil.which("st", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip("Schemathesis is not installed (pip install -e '.[test]')")
    return found


def _config(folder: Path, secrets: dict[str, str], account: str | None,
            peer: str | None) -> Path:
    """A schemathesis.toml for one identity: the volume of each phase, and its credentials as a
    Web Fuzzing Commons file (the account first; its peer, if any, for the replays)."""
    lines = [f"[phases.fuzzing]\ngeneration.max-examples = {FUZZING_EXAMPLES}",
             f"[phases.stateful]\ngeneration.max-examples = {STATEFUL_SCENARIOS}\n"
             f"max-steps = {STATEFUL_STEPS}"]
    if account is not None:
        names = [account] + ([peer] if peer else [])
        auth = {"auth": [{"name": name, "fixedHeaders": [
            {"name": "Authorization", "value": f"Bearer {secrets[name]}"}]} for name in names]}
        (folder / "auth.json").write_text(json.dumps(auth))
        lines.insert(0, f'[auth.wfc]\npath = "auth.json"\nuser = "{account}"'
                        + (f"\npeers = {json.dumps(names)}" if peer else ""))
    for name in REFUSED_BY_DATA:
        lines.append(f"[[operations]]\ninclude-name = {json.dumps(name)}\n"
                     f"checks.positive_data_acceptance.expected-statuses = "
                     f"{json.dumps(POSITIVE_STATUSES)}")
    path = folder / "schemathesis.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _run(st: str, url: str, folder: Path, config: Path, phases: tuple[str, ...]):
    command = [
        st, "--config-file", str(config), "run", f"{url}/api/schema/", "--url", url,
        "--phases", ",".join(phases), "--checks", "all",
        *(["--exclude-checks", ",".join(EXCLUDED_CHECKS)] if EXCLUDED_CHECKS else []),
        "--workers", "1", "--seed", "19", "--generation-database", "none",
        "--request-timeout", "20", "--no-color",
        # One request per connection, as gunicorn's sync workers (deploy/gunicorn.conf.py)
        # serve: on a kept-alive connection Django's development server, which the live server
        # is, now and then answered a request with a stray HTML error (3 times in about 15
        # runs, never on a fresh connection), an artefact of that server and not of the API.
        "-H", "Connection: close",
        "--report", "junit", "--report-dir", str(folder),
    ]
    return subprocess.run(command, cwd=folder, capture_output=True, text=True,  # noqa: S603
                          timeout=600, env={**os.environ, "NO_COLOR": "1"})


# A live server needs committed data; serialized_rollback puts back the Member States and
# taxonomy (loaded by migrations) that the flush at the end removes, for the tests after it.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_schemathesis_finds_no_failure(live_server, settings, tmp_path):
    st = _st()
    settings.DATA_DIR = tmp_path   # seed-observatory writes its demo files there
    started = time.monotonic()
    quiet = io.StringIO()
    call_command("seed_demo", reports=DEMO_REPORTS, stdout=quiet)
    call_command("seed_observatory", stdout=quiet)
    accounts = {account for account, _phases, peer in IDENTITIES.values()} | {
        peer for _account, _phases, peer in IDENTITIES.values()}
    secrets = {name: ApiToken.issue(User.objects.get(username=name))[1]
               for name in accounts - {None}}
    times = [f"demo data: {time.monotonic() - started:.1f} s"]
    # The first schema request loads drf-spectacular's extensions, which is not thread-safe:
    # fetched once before any run.
    with urllib.request.urlopen(f"{live_server.url}/api/schema/") as answer:  # noqa: S310
        assert answer.status == 200

    failures = []
    for name, (account, phases, peer) in IDENTITIES.items():
        folder = tmp_path / name
        folder.mkdir()
        config = _config(folder, secrets, account, peer)
        began = time.monotonic()
        result = _run(st, live_server.url, folder, config, phases)
        output = result.stdout + result.stderr
        (folder / "schemathesis.txt").write_text(output)
        times.append(f"{name} ({','.join(phases)}): {time.monotonic() - began:.1f} s")
        if result.returncode != 0:
            failures.append(f"===== {name} ({account or 'no token'}) =====\n{output[-12000:]}")
    times.append("load average at the end: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
    (tmp_path / "schemathesis-times.txt").write_text("\n".join(times) + "\n")
    print("\n".join(times))  # shown with -s or -rP: the budget this docstring speaks of
    assert not failures, "\n".join(times) + "\n\n" + "\n\n".join(failures)
