"""Feed health of the live routing monitor (observatory/routing/live/health.py): feed-lost once
per outage, feed-restored with the outage's duration, and a restart in the middle of an outage
that neither repeats the one nor forgets the other. The clock is injected (tick(now))."""

from __future__ import annotations

import json

from sentinelle.observatory.routing.live.events import AlertEvent, SourceItem
from sentinelle.observatory.routing.live.health import FeedHealth

T0 = 1_764_670_000.0


def kinds(events: list[AlertEvent]) -> list[tuple[str, str]]:
    return [(e.event, e.source) for e in events]


def test_a_source_that_never_sends_anything_is_lost_after_the_timeout():
    health = FeedHealth(["ris-live", "bmp:127.0.0.1:11019"], timeout=60)
    assert health.tick(T0) == []
    health.saw("ris-live", T0 + 10)
    assert health.tick(T0 + 59) == []
    events = health.tick(T0 + 61)
    assert kinds(events) == [("feed-lost", "bmp:127.0.0.1:11019")]
    lost = events[0]
    assert lost.type == "feed"
    assert lost.alert_id == f"feed:bmp:127.0.0.1:11019@{int(T0 + 61)}"
    assert lost.first_seen == T0  # silent since the monitor started
    assert lost.details["timeout"] == 60
    assert lost.details["last_item_at"] is None


def test_feed_lost_exactly_once_per_outage_then_restored_with_duration():
    health = FeedHealth(["ris-live"], timeout=30)
    health.saw("ris-live", T0)
    assert health.tick(T0 + 29) == []
    lost = health.tick(T0 + 31)
    assert kinds(lost) == [("feed-lost", "ris-live")]
    assert lost[0].first_seen == T0  # the silence began with the last item
    for later in (32, 100, 1000):
        assert health.tick(T0 + later) == []  # not repeated while the outage lasts
    restored = health.saw("ris-live", T0 + 1200)
    assert kinds(restored) == [("feed-restored", "ris-live")]
    assert restored[0].alert_id == lost[0].alert_id
    assert restored[0].idempotency_key != lost[0].idempotency_key
    assert restored[0].resolved_at == T0 + 1200
    assert restored[0].duration == 1200
    assert health.saw("ris-live", T0 + 1201) == []
    # a second outage is a new episode with its own id
    second = health.tick(T0 + 1201 + 31)
    assert kinds(second) == [("feed-lost", "ris-live")]
    assert second[0].alert_id != lost[0].alert_id


def test_restart_during_an_outage_neither_repeats_feed_lost_nor_forgets_feed_restored():
    health = FeedHealth(["ris-live", "mrt-dir:/srv/mrt"], timeout=30)
    health.saw("ris-live", T0)
    health.saw("mrt-dir:/srv/mrt", T0)
    health.saw("mrt-dir:/srv/mrt", T0 + 20)
    lost = health.tick(T0 + 31)
    assert kinds(lost) == [("feed-lost", "ris-live")]
    saved = json.loads(json.dumps(health.snapshot()))

    # the process restarts an hour later
    again = FeedHealth(["ris-live", "mrt-dir:/srv/mrt"], timeout=30)
    again.restore(saved)
    assert again.tick(T0 + 3600) == []  # ris-live: same outage; mrt-dir: clock restarts now
    assert again.tick(T0 + 3600 + 29) == []
    assert kinds(again.tick(T0 + 3600 + 31)) == [("feed-lost", "mrt-dir:/srv/mrt")]
    restored = again.saw("ris-live", T0 + 3700)
    assert kinds(restored) == [("feed-restored", "ris-live")]
    assert restored[0].alert_id == lost[0].alert_id
    assert restored[0].duration == 3700


def test_restore_ignores_sources_no_longer_configured_and_bad_data():
    health = FeedHealth(["ris-live"], timeout=30)
    health.saw("ris-live", T0)
    health.tick(T0 + 40)
    other = FeedHealth(["bmp:[::1]:11019"], timeout=30)
    other.restore(health.snapshot())
    other.restore({"sources": "nonsense"})
    other.restore({})
    assert other.tick(T0 + 100) == []
    assert kinds(other.tick(T0 + 131)) == [("feed-lost", "bmp:[::1]:11019")]


def test_observe_counts_items_that_prove_the_feed_and_not_status_lines():
    health = FeedHealth(["ris-live"], timeout=30)
    health.tick(T0)
    # a client that keeps failing to reconnect produces status items: not a working feed
    for second in range(0, 40, 5):
        health.observe(SourceItem("status", "ris-live", T0 + second,
                                  detail="connect_failed"), T0 + second)
    assert kinds(health.tick(T0 + 40)) == [("feed-lost", "ris-live")]
    restored = health.observe(SourceItem("alive", "ris-live", T0 + 50), T0 + 50)
    assert kinds(restored) == [("feed-restored", "ris-live")]


def test_status_says_which_feeds_are_ok_waiting_or_lost():
    health = FeedHealth(["a", "b", "c"], timeout=30)
    health.tick(T0)
    health.saw("a", T0 + 1)
    health.saw("b", T0 + 1)
    health.tick(T0 + 20)
    status = health.status()
    assert status["a"]["state"] == "ok" and status["a"]["last_item_at"] == T0 + 1
    assert status["c"]["state"] == "waiting" and status["c"]["last_item_at"] is None
    health.saw("a", T0 + 40)
    health.tick(T0 + 40)
    status = health.status()
    assert status["a"]["state"] == "ok"
    assert status["b"]["state"] == "lost" and status["b"]["lost_at"] == T0 + 40
    assert status["c"]["state"] == "lost"
    json.dumps(status)


def test_unknown_source_items_are_ignored_and_timeout_must_be_positive():
    health = FeedHealth(["a"], timeout=5)
    assert health.saw("not-configured", T0) == []
    try:
        FeedHealth(["a"], timeout=0)
    except ValueError as exc:
        assert "timeout" in str(exc)
    else:
        raise AssertionError("a zero timeout was accepted")
