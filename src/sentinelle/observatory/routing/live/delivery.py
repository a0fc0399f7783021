"""The deliverer: sends what the outbox holds to each destination, retrying with backoff.

One asyncio task per destination, so a slow or dead destination does not hold the others. A
pass takes the destination's due rows in order and delivers them one by one; the first retryable
failure ends the pass (the row is retried after a backoff and holds the later rows back, so order
is kept), a permanent refusal marks the row rejected, logs it and goes on. Every attempt is bounded
by ``timeout`` (60 s: above the destinations' own socket timeouts, 10 s per operation and 30 s for
a bundle upload, so it only cuts a receiver that trickles its answer); the outbox calls (SQLite
with fsync) run in worker threads too, so the event loop that reads the feeds never waits on the
disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from .destinations import DeliveryError, Destination
from .outbox import Outbox

__all__ = ["Backoff", "Deliverer"]

log = logging.getLogger("sentinelle.routing.delivery")

IDLE = 30.0  # seconds between passes when nothing is due and nobody calls wake()
OUTBOX_RETRY = 5.0  # seconds before trying again when the outbox itself failed


class Rng(Protocol):
    def random(self) -> float: ...


@dataclass(frozen=True)
class Backoff:
    """Delay before attempt n+1 after n failures: ``base * factor**(n-1)``, at most ``cap``, of
    which the last ``jitter`` share is random ("equal jitter": never less than half the nominal
    delay by default, so a dead receiver is not hammered, and restarted monitors do not retry in
    step)."""

    base: float = 5.0
    factor: float = 2.0
    cap: float = 300.0
    jitter: float = 0.5

    def delay(self, failures: int, rng: Rng) -> float:
        nominal = min(self.cap, self.base * self.factor ** max(0, failures - 1))
        return nominal * (1 - self.jitter) + nominal * self.jitter * rng.random()


class Deliverer:
    def __init__(self, outbox: Outbox, destinations: dict[str, Destination],
                 backoff: Backoff | None = None, *, timeout: float = 60.0,
                 clock: Callable[[], float] = time.time, rng: Rng | None = None,
                 batch: int = 100) -> None:
        self.outbox = outbox
        self.destinations = destinations
        self.backoff = backoff or Backoff()
        self.timeout = timeout
        self.clock = clock
        self.rng = rng or random.Random()
        self.batch = batch
        self._wakes: dict[str, asyncio.Event] = {}

    def wake(self) -> None:
        """New events in the outbox: look now rather than at the next retry (event loop only)."""
        for event in self._wakes.values():
            event.set()

    def counts(self) -> dict[str, dict[str, int]]:
        return self.outbox.counts()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; a delivery in progress is finished (or times out)."""
        self._wakes = {name: asyncio.Event() for name in self.destinations}
        await asyncio.gather(*(self._loop(name, stop) for name in self.destinations))

    async def _loop(self, name: str, stop: asyncio.Event) -> None:
        wake = self._wakes[name]
        while not stop.is_set():
            wake.clear()
            try:
                more = await self.deliver_due(name)
                head = await asyncio.to_thread(self.outbox.next_due, name)
            except Exception:  # the outbox failed (disk full...): logged, tried again later
                log.exception("delivery to %s failed", name)
                more, head = False, self.clock() + OUTBOX_RETRY
            if more or stop.is_set():
                continue
            wait = IDLE if head is None else min(IDLE, max(0.0, head - self.clock()))
            waiters = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stop.wait())]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.wait(waiters,
                                                    return_when=asyncio.FIRST_COMPLETED), wait)
            for waiter in waiters:
                waiter.cancel()

    async def deliver_due(self, name: str) -> bool:
        """One pass over the due rows of ``name``; True when a full batch went through (there
        may be more)."""
        destination = self.destinations[name]
        rows = await asyncio.to_thread(self.outbox.due, name, self.clock(), self.batch)
        for row_id, event in rows:
            try:
                await asyncio.wait_for(destination.deliver(event), self.timeout)
            except DeliveryError as exc:
                if not exc.retryable:
                    log.warning("%s rejected %s %s (%s): %s; not retried", name, event.event,
                                event.alert_id, event.idempotency_key, exc)
                    await asyncio.to_thread(self.outbox.failed, row_id, str(exc), None)
                    continue
                await self._retry(name, row_id, str(exc))
                return False
            except TimeoutError:
                await self._retry(name, row_id, f"timed out after {self.timeout:g} s")
                return False
            except OSError as exc:
                await self._retry(name, row_id, str(exc) or type(exc).__name__)
                return False
            except Exception as exc:  # a bug in a destination must not spin or stop the others
                log.exception("delivery of %s to %s failed", event.alert_id, name)
                await self._retry(name, row_id, f"{type(exc).__name__}: {exc}")
                return False
            await asyncio.to_thread(self.outbox.delivered, row_id, self.clock())
        return len(rows) == self.batch

    async def _retry(self, name: str, row_id: int, error: str) -> None:
        failures = await asyncio.to_thread(self.outbox.attempts, row_id) + 1
        delay = self.backoff.delay(failures, self.rng)
        log.info("delivery to %s failed (attempt %d): %s; retry in %.1f s", name, failures,
                 error, delay)
        await asyncio.to_thread(self.outbox.failed, row_id, error, self.clock() + delay)
