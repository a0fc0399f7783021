"""Feed health: is every ``--source`` of the live monitor still sending something?

A source that sends nothing for ``timeout`` seconds raises one ``feed-lost`` event (also a
source that has sent nothing at all since the monitor started); the next item it sends raises
one ``feed-restored`` event carrying the outage's duration. Both share the alert id
``feed:<source>@<time the loss was declared>`` (so their idempotency keys differ only by the
event kind, and a repeat after a restart is recognised by the outbox).

What counts as "something": any item except ``status`` ones (``observe``). A status item is a
log line such as "connect_failed, retrying in 20 s": a client that keeps failing to reconnect
produces them forever, and it is exactly the outage to report. ``saw`` is the lower-level call
for a caller that has already decided.

The clock is the caller's (``tick(now)``, ``saw(source, now)``): tests drive it, the monitor
passes time.time().

Restart: ``snapshot()`` keeps, per source, the last item's time and the current outage (when
it was declared, since when the source was silent). ``restore()`` keeps an outage open (no
second feed-lost; the first item afterwards gives feed-restored) but restarts the silence
clock of the healthy sources at the first ``tick``/``saw`` of the new process: the monitor
being stopped is not the feed being lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .events import AlertEvent, SourceItem

__all__ = ["FeedHealth"]


@dataclass
class _Feed:
    last_item_at: float | None = None  # wall clock of the last item (this run or before)
    lost_at: float | None = None  # when feed-lost was emitted; None: not in an outage
    silent_since: float | None = None  # start of the silence that led to lost_at


class FeedHealth:
    def __init__(self, sources: list[str], timeout: float = 60) -> None:
        if not timeout > 0:
            raise ValueError(f"feed timeout must be a positive number of seconds, not {timeout!r}")
        self.timeout = float(timeout)
        self.feeds: dict[str, _Feed] = {source: _Feed() for source in sources}
        # the first time this process saw the clock: silence of a source with no item in
        # this run is counted from here
        self.started: float | None = None

    def _start(self, now: float) -> None:
        if self.started is None:
            self.started = now

    def saw(self, source: str, now: float) -> list[AlertEvent]:
        """An item from ``source`` reached us at ``now``: [feed-restored] after an outage."""
        self._start(now)
        feed = self.feeds.get(source)
        if feed is None:
            return []
        feed.last_item_at = now
        if feed.lost_at is None:
            return []
        lost_at, since = feed.lost_at, feed.silent_since
        feed.lost_at = feed.silent_since = None
        event = self._event("feed-restored", source, lost_at, since, now)
        event.resolved_at = now
        event.duration = round(now - since, 3) if since is not None else None
        return [event]

    def observe(self, item: SourceItem, now: float) -> list[AlertEvent]:
        """``saw`` for an item that proves its feed works (every kind but ``status``)."""
        if item.kind == "status":
            self._start(now)
            return []
        return self.saw(item.source, now)

    def tick(self, now: float) -> list[AlertEvent]:
        """feed-lost for every source silent for ``timeout`` s and not already lost."""
        self._start(now)
        assert self.started is not None
        events = []
        for source, feed in self.feeds.items():
            if feed.lost_at is not None:
                continue
            # an item from before this run does not count: the clock restarts with the run
            since = max(feed.last_item_at or self.started, self.started)
            if now - since >= self.timeout:
                feed.lost_at, feed.silent_since = now, since
                events.append(self._event("feed-lost", source, now, since, now))
        return events

    def _event(self, kind: str, source: str, lost_at: float, since: float | None,
               now: float) -> AlertEvent:
        feed = self.feeds[source]
        return AlertEvent(
            event=kind, alert_id=f"feed:{source}@{int(lost_at)}", type="feed",
            first_seen=since, last_seen=feed.last_item_at if kind == "feed-restored" else since,
            source=source, observed_at=now, emitted_at=now,
            details={"timeout": self.timeout, "lost_at": lost_at,
                     "last_item_at": feed.last_item_at if kind == "feed-lost" else since})

    def snapshot(self) -> dict[str, Any]:
        return {"timeout": self.timeout,
                "sources": {source: {"last_item_at": f.last_item_at, "lost_at": f.lost_at,
                                     "silent_since": f.silent_since}
                            for source, f in self.feeds.items()}}

    def restore(self, data: dict[str, Any]) -> None:
        """Take back a snapshot; sources not configured any more, and values that are not
        numbers (a hand-edited or damaged snapshot), are ignored."""
        sources = data.get("sources") if isinstance(data, dict) else None
        if not isinstance(sources, dict):
            return
        for source, saved in sources.items():
            feed = self.feeds.get(source)
            if feed is None or not isinstance(saved, dict):
                continue
            values = {name: saved.get(name) for name in ("last_item_at", "lost_at",
                                                          "silent_since")}
            if not all(v is None or isinstance(v, (int, float)) for v in values.values()):
                continue
            feed.last_item_at = values["last_item_at"]
            feed.lost_at = values["lost_at"]
            feed.silent_since = values["silent_since"] if feed.lost_at is not None else None

    def status(self) -> dict[str, dict[str, Any]]:
        """Per source: state ok | waiting (nothing yet, not timed out) | lost, the last item's
        time and, when lost, since when (JSON-able, for the monitor's status line)."""
        out = {}
        for source, feed in self.feeds.items():
            if feed.lost_at is not None:
                state = "lost"
            elif feed.last_item_at is None or (
                    self.started is not None and feed.last_item_at < self.started):
                state = "waiting"
            else:
                state = "ok"
            out[source] = {"state": state, "last_item_at": feed.last_item_at,
                           "lost_at": feed.lost_at}
        return out
