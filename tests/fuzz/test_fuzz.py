"""A short pass of every fuzz target (fuzz/README.md): replay the saved corpus (seeds and past
failures), the 1 MB hostile shapes, then a few hundred fresh mutations. An input either
imports or is refused with the project's own error: never another exception, never a hang,
never more than the memory cap. `make fuzz` runs the same targets for longer."""

from __future__ import annotations

import sys

import pytest

from tests.paths import ROOT

sys.path.insert(0, str(ROOT))

from fuzz import harness  # noqa: E402 - after the path is set

TARGETS = harness.target_names()


def _report(result: harness.Result) -> str:
    lines = [result.summary()]
    for failure in result.failures[:5]:
        lines.append(harness.describe(failure))
        lines.append(failure.trace[-1500:])
    return "\n".join(lines)


def test_every_reachable_parser_has_a_target():
    """The parsers issue 11 names: every one a user can reach with a file."""
    expected = {"stix", "misp", "veris", "ooni", "rislive", "watchlist", "fingerprints",
                "iodef", "arf", "xarf", "csvxlsx", "mrt", "bundle", "campaign_config",
                # issue 20: the bodies posted to the report and summary-return endpoints
                "http_bodies", "http_forms"}
    assert not expected - set(TARGETS), expected - set(TARGETS)


def _routes(resolver, prefix: str = ""):
    from django.urls import URLResolver

    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            namespace = f"{prefix}{pattern.namespace}:" if pattern.namespace else prefix
            yield from _routes(pattern, namespace)
        elif pattern.name:
            yield f"{prefix}{pattern.name}"
        else:
            yield f"{prefix}{pattern.lookup_str}"


def test_every_route_is_fuzzed_or_excluded_with_a_reason():
    """Issue 20: every body a user can send is fuzzed. A new route must be put in the
    http_forms target's COVERED (and be reached by it: its set-up fails on a covered form it
    does not find) or in EXCLUDED with the reason it takes no body."""
    from django.urls import get_resolver

    forms = harness.load_target("http_forms")
    module = sys.modules["fuzz.targets.http_forms"]
    names = {name for name in _routes(get_resolver())
             if not name.startswith(module.EXCLUDED_PREFIXES)}
    both = set(module.COVERED) & set(module.EXCLUDED)
    assert not both, f"both covered and excluded: {sorted(both)}"
    unlisted = names - set(module.COVERED) - set(module.EXCLUDED)
    assert not unlisted, f"routes neither fuzzed nor excluded: {sorted(unlisted)}"
    stale = (set(module.COVERED) | set(module.EXCLUDED)) - names
    assert not stale, f"no such route any more: {sorted(stale)}"
    assert all(module.EXCLUDED.values()) and forms.name == "http_forms"


@pytest.mark.parametrize("name", TARGETS)
def test_corpus_replays_cleanly(name):
    """Every seed and every input that once failed (fuzz/corpus/<name>/crashes/), and the
    1 MB hostile shapes (deep nesting, many small objects, a huge string) within the cap."""
    target = harness.load_target(name)
    inputs = target.seed_inputs()
    inputs += list(harness.hostile_inputs(target.kind, target.max_input,
                                          inputs[0] if inputs else None).values())
    assert inputs
    result = harness.run_inputs(target, inputs, save=False)
    assert result.inputs == len(inputs)
    assert not result.failures, _report(result)
    assert result.peak <= harness.MEMORY_CAP


@pytest.mark.parametrize("name", TARGETS)
def test_fresh_mutations_are_refused_cleanly(name):
    target = harness.load_target(name)
    mutator = harness.Mutator(target.seed_inputs(), target.kind, target.max_input)
    result = harness.run_inputs(target, mutator, limit=300, seconds=2.5, save=False)
    assert result.inputs > 0
    assert not result.failures, _report(result)


def test_the_harness_sees_each_kind_of_failure(tmp_path):
    """The fuzzer itself: an unexpected exception, a hang and a memory blow-up are failures,
    the project's own refusal is not."""
    target = harness.load_target("_selftest")
    # 3 s, not 1: on a loaded machine a child's start alone took over a second ("ok" a hang).
    result = harness.run_inputs(target, [b"ok", b"refuse", b"boom", b"hang", b"hog"],
                                timeout=3.0, save=False)
    kinds = sorted(f.kind for f in result.failures)
    assert kinds == ["hang", "out-of-memory", "unexpected"], _report(result)
    assert result.refused == 1


def _postgres():
    from fuzz.targets import _postgres

    return _postgres


@pytest.mark.parametrize("name", ["http_bodies", "http_forms"])
def test_http_targets_post_into_the_database_the_suite_runs_on(name):
    """On CI's PostgreSQL pass the HTTP targets post into PostgreSQL (errors only it raises:
    a NUL in text, a varchar or integer out of range), on the SQLite pass into SQLite files;
    each child into its own database, never the suite's test database."""
    from django.conf import settings

    postgres = _postgres()
    result = harness.run_inputs(harness.load_target(name), [b"{}"], save=False)
    assert result.inputs == 1 and not result.failures, _report(result)
    [used] = result.setups
    if postgres.url():
        assert used["vendor"] == "postgresql"
        assert used["database"] == postgres.name("c", used["database"].rsplit("_", 1)[1])
    else:
        assert used["vendor"] == "sqlite"
        assert used["database"].endswith(".sqlite3")
    assert used["database"] != settings.DATABASES["default"]["NAME"]


def test_a_child_posts_into_its_own_postgresql_database_dropped_when_it_ends():
    postgres = _postgres()
    if not postgres.url():
        pytest.skip("no PostgreSQL URL: set DATABASE_URL=postgres://… (CI's second pass) or "
                    f"{postgres.URL_VARIABLE} to fuzz into PostgreSQL")
    import psycopg

    harness.load_target("http_bodies")
    worker = harness.Worker("fuzz.targets.http_bodies", harness.MEMORY_CAP)
    try:
        database = worker.info["database"]
        assert database in postgres.databases()
        assert worker.run(b'{"title": "x"}', 30)[0] in ("ok", "refused")
        settings = postgres.database_settings(database)
        with psycopg.connect(dbname=database, host=settings["HOST"], port=settings["PORT"],
                             user=settings["USER"], password=settings["PASSWORD"]) as conn:
            # The set-up's seed report, posted through the API: in this database.
            titles = [row[0] for row in conn.execute("SELECT title FROM incidents_incident")]
            users = [row[0] for row in conn.execute(
                "SELECT username FROM core_user WHERE username LIKE 'fuzz-%'")]
    finally:
        worker.close()
    assert "DDoS against the national portal" in titles
    assert sorted(users) == ["fuzz-admin", "fuzz-analyst", "fuzz-focal"]
    assert database not in postgres.databases()


@pytest.mark.django_db
def test_a_child_leaves_the_suites_own_connection_open():
    """A child forked from pytest inherits pytest's connection to the test database: closing
    it there would end the parent's session on PostgreSQL (psycopg sends Terminate over the
    shared socket), and the next test's first query would fail."""
    from sentinelle.core.models import MemberState

    before = MemberState.objects.count()
    result = harness.run_inputs(harness.load_target("http_bodies"), [b"{}"], save=False)
    assert not result.failures, _report(result)
    assert MemberState.objects.count() == before > 0
