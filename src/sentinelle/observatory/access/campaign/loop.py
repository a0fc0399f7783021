"""``sentinelle probe campaign``: rounds on a schedule, each bundle through the outbox to the
platform.

One process per state directory (an ``flock`` on ``state_dir/lock``). The main loop: run the
round that is due (the runner, in this process), put its bundle into the outbox, then deliver
pending bundles oldest first until the next round is due, waiting between attempts with an
exponential backoff (``platform.retry_min`` doubling up to ``retry_max``, or the platform's
Retry-After). Rounds and deliveries take turns: a round is never started while a bundle is
being sent, and a long outage only makes the outbox grow.

SIGTERM/SIGINT: between rounds, the process ends at once (a submission in flight is finished or
given up: its bundle stays pending). During a round, the round is abandoned: its measurements
are discarded, it is recorded as abandoned, and its number is never reused.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import logging
import os
import random
import signal
import stat
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .config import CampaignConfig
from .outbox import Outbox
from .platform import Platform, TokenRefused
from .schedule import next_round
from .stopping import StopFlag

__all__ = ["Campaign", "CampaignError", "Stopped"]

log = logging.getLogger("sentinelle.probe.campaign")
JOB_POLL = 5.0          # seconds between two questions about a queued or running job


class CampaignError(Exception):
    """Stops the campaign; the message says why (exit status 1)."""


class Stopped(BaseException):
    """SIGTERM or SIGINT during a round (raised in the main thread by the handler)."""


class Campaign:
    def __init__(self, config: CampaignConfig, *, rng: random.Random | None = None,
                 clock: Callable[[], dt.datetime] | None = None,
                 progress: bool = False) -> None:
        self.config = config
        self.rng = rng or random.Random()
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.progress = progress
        self.stop = StopFlag()
        self._stop_logged = False
        self.in_round = False
        self._lock_handle: Any = None
        self.outbox: Outbox | None = None
        self.platform: Platform | None = None

    # --- set-up --------------------------------------------------------------------------------

    def open(self) -> None:
        config = self.config
        # Both tokens are read now: a bad token file stops the start, not the first round.
        self.control_token = config.control_token()
        config.check_sign_key()
        self.platform = Platform(config.platform_url, config.platform_token(),
                                 config.platform_ca_file)
        try:
            config.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise CampaignError(f"state_dir: {config.state_dir}: {exc.strerror or exc}") from None
        self._check_state_dir()
        self._take_lock()
        self.outbox = Outbox(config.state_dir, config.name)
        for note in self.outbox.recover(config.keep_acknowledged):
            log.warning("recovered: %s", note)

    def _check_state_dir(self) -> None:
        """Ours and writable by us only: another account that can write it could plant the
        lock as a symlink or a bundle in outbox/pending/ (adopted and sent with our token)."""
        info = self.config.state_dir.lstat()
        if not stat.S_ISDIR(info.st_mode):
            raise CampaignError(f"state_dir: {self.config.state_dir} is not a directory")
        if info.st_uid != os.geteuid() or info.st_mode & 0o022:
            raise CampaignError(
                f"state_dir: {self.config.state_dir} must belong to this account and be "
                f"writable by it only (mode {stat.S_IMODE(info.st_mode):04o}, owner uid "
                f"{info.st_uid}): chmod 700 {self.config.state_dir}")

    def _take_lock(self) -> None:
        path = self.config.state_dir / "lock"
        try:
            # O_NOFOLLOW: a lock planted as a symlink is refused, its target never truncated.
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise CampaignError(f"state_dir: {path}: {exc.strerror or exc} (a lock file must "
                                "be a plain file)") from None
        handle = os.fdopen(fd, "r+")  # noqa: SIM115 - held for the life of the process
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip()
            handle.close()
            raise CampaignError(f"state_dir {self.config.state_dir} is in use by another "
                                f"campaign process{f' (pid {holder})' if holder else ''}; one "
                                "process per state_dir") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._lock_handle = handle

    def close(self) -> None:
        if self.outbox is not None:
            self.outbox.close()
        if self._lock_handle is not None:
            self._lock_handle.close()
        self.stop.close()

    def install_signals(self) -> None:
        # The handler only sets the flag (and ends a round): logging from it could re-enter a
        # write to stderr the main thread was in the middle of.
        def handler(signum: int, _frame: Any) -> None:
            self.stop.set(signum)
            if self.in_round:
                raise Stopped()
        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    # --- the loop ------------------------------------------------------------------------------

    def log_stop(self) -> None:
        """Say once which signal stopped the process (from the main loop, not the handler)."""
        if self.stop.signum is not None and not self._stop_logged:
            self._stop_logged = True
            log.info("signal %d: stopping", self.stop.signum)

    def run_forever(self) -> None:
        assert self.outbox is not None
        while not self.stop.is_set():
            planned = self.planned()
            if self.clock() >= planned[1]:
                self.round(*planned)
                continue
            self.deliver(until=planned[1])
            if not self.stop.is_set():
                self._sleep_until(min(planned[1], self._next_delivery()))
        self.log_stop()

    def run_once(self) -> int:
        """One round now, then one delivery pass; 0 when the outbox is empty after it, 3 when
        bundles remain pending (sent at the next start)."""
        now = self.clock()
        self.round(now, now)
        return self.drain()

    def drain(self) -> int:
        """One attempt for each pending bundle that is due; 3 if some remain pending."""
        assert self.outbox is not None
        self.deliver(until=None, passes=1, ignore_retry_time=True)
        pending = self.outbox.counts()["pending"]
        return 3 if pending else 0

    def planned(self) -> tuple[dt.datetime, dt.datetime]:
        """(nominal, at) of the next round, planned once and kept across restarts."""
        assert self.outbox is not None
        nominal, at = self.outbox.meta("next_nominal"), self.outbox.meta("next_at")
        # A plan made under another config (the interval or quiet hours were edited, then the
        # service restarted) is made again under this one.
        if nominal and at and self.outbox.meta("plan_config") == self.config.sha256:
            return dt.datetime.fromisoformat(nominal), dt.datetime.fromisoformat(at)
        last = self.outbox.meta("last_nominal")
        plan = next_round(dt.datetime.fromisoformat(last) if last else None, self.clock(),
                          self.config.schedule, self.rng)
        self.outbox.set_meta({"next_nominal": plan.nominal.isoformat(),
                              "next_at": plan.at.isoformat(),
                              "plan_config": self.config.sha256})
        log.info("next round at %s", plan.at.isoformat(timespec="seconds"))
        return plan.nominal, plan.at

    def round(self, nominal: dt.datetime, scheduled: dt.datetime) -> int | None:
        from sentinelle.observatory.access import runner
        from sentinelle.observatory.access.helper import ControlError, PinMismatch
        from sentinelle.observatory.access.targets import TargetListError

        assert self.outbox is not None
        config = self.config
        number = self.outbox.start_round(nominal, scheduled)
        work = self.outbox.work / f"round-{number}"
        work.mkdir(parents=True, exist_ok=True)
        log.info("round %d started (scheduled %s)", number,
                 scheduled.isoformat(timespec="seconds"))
        try:
            targets = _merged_lists(config.lists)
            options = runner.RunOptions(
                list_path=config.lists[0], control_url=config.control_url,
                control_token=self.control_token, output=work / "measurements.jsonl",
                concurrency=config.concurrency, geoip_db=config.geoip_db,
                asn_db=config.asn_db, self_cc=config.self_cc, self_asn=config.self_asn,
                sign_key=config.sign_key, bundle=work / "bundle.zip", progress=self.progress,
                control_pins=list(config.control_pins),
                command_line=["sentinelle", "probe", "campaign", "--config", str(config.path)],
                campaign={"name": config.name, "round": number,
                          "scheduled_at": scheduled.astimezone(dt.UTC).isoformat(),
                          "interval_seconds": config.schedule.interval,
                          "config_sha256": config.sha256},
                **config.probe)
            self.in_round = True
            try:
                if self.stop.is_set():
                    raise Stopped()
                result = runner.run(options, targets)
            finally:
                self.in_round = False
        except Stopped:
            self.log_stop()
            self.outbox.end_round(number, "abandoned", "stopped by a signal")
            log.warning("round %d abandoned (stopped)", number)
            _cleanup(work)
            return None
        except PinMismatch as exc:
            self.outbox.end_round(number, "failed", str(exc))
            _cleanup(work)
            raise CampaignError(f"round {number}: {exc}") from None
        except (TargetListError, ControlError, ValueError, OSError) as exc:
            # The next round may go better (a list being edited, the helper restarting).
            self.outbox.end_round(number, "failed", str(exc))
            log.error("round %d failed: %s", number, exc)
            _cleanup(work)
            return None
        sha = self.outbox.add_bundle(result.bundle, number, result.count, dict(result.verdicts))
        _cleanup(work)
        counts = ", ".join(f"{v} {n}" for v, n in result.verdicts.most_common())
        log.info("round %d finished: %d URLs in %.1f s (%s); bundle %s; outbox pending %d",
                 number, result.count, result.elapsed, counts, sha[:12],
                 self.outbox.counts()["pending"])
        if result.control_failure:
            log.warning("round %d: control helper: %s", number, result.control_failure)
        return number

    # --- delivery ------------------------------------------------------------------------------

    def deliver(self, until: dt.datetime | None, passes: int | None = None,
                ignore_retry_time: bool = False) -> None:
        """Send due bundles, oldest first, until the outbox has none due, ``until`` comes, or
        ``passes`` passes are done. TokenRefused becomes a CampaignError (the process stops)."""
        assert self.outbox is not None and self.platform is not None
        done = 0
        while not self.stop.is_set() and (passes is None or done < passes):
            due = self.outbox.due(float("inf") if ignore_retry_time else time.time())
            if not due:
                return
            for bundle in due:
                if self.stop.is_set() or (until is not None and self.clock() >= until):
                    return
                self._deliver_one(bundle)
            done += 1

    def _deliver_one(self, bundle) -> None:
        assert self.outbox is not None and self.platform is not None
        if bundle.job_id is None:
            log.info("submitting bundle %s (round %d, attempt %d)", bundle.sha256[:12],
                     bundle.round, bundle.attempts + 1)
        try:
            if bundle.job_id is not None:
                answer = self.platform.job(bundle.job_id, bundle.sha256)
                if answer.kind == "retry" and answer.retry_after == 0:
                    answer = self._submit(bundle)
            else:
                answer = self._submit(bundle)
        except TokenRefused as exc:
            raise CampaignError(str(exc)) from None
        except OSError as exc:      # the bundle file itself
            self.outbox.refused(bundle.sha256, f"cannot read the bundle: {exc}")
            log.error("bundle %s refused: cannot read it (%s)", bundle.sha256[:12], exc)
            return
        if answer.kind == "acknowledged":
            self.outbox.acknowledged(bundle.sha256, answer.report, self.config.keep_acknowledged)
            log.info("bundle %s acknowledged: report %s (%s)", bundle.sha256[:12], answer.report,
                     "new" if answer.created else "the platform already had it")
        elif answer.kind == "refused":
            self.outbox.refused(bundle.sha256, answer.message)
            log.error("bundle %s refused %s, moved to outbox/refused: %s", bundle.sha256[:12],
                      "here" if answer.local else "by the platform", answer.message)
        elif answer.kind == "waiting":
            assert answer.job_id is not None
            # The platform's worker has the bundle: ask about the job, not with the bundle.
            log.info("bundle %s: platform job %d %s", bundle.sha256[:12], answer.job_id,
                     answer.message.rsplit(" ", 1)[-1])
            self.outbox.waiting(bundle.sha256, answer.job_id, time.time() + JOB_POLL)
        else:
            delay = answer.retry_after if answer.retry_after else self._backoff(bundle.attempts)
            self.outbox.retry(bundle.sha256, answer.message, time.time() + delay)
            log.warning("bundle %s not delivered (%s); next attempt in %.0f s",
                        bundle.sha256[:12], answer.message, delay)

    def _submit(self, bundle):
        """POST the bundle if its file still has the SHA-256 it is filed under: a file changed
        on disk (a disk error, a hand edit) is not the round's bundle, and the platform's
        acknowledgement of it would acknowledge the round's. Such a file is moved aside."""
        from .outbox import sha256_of
        from .platform import Answer

        digest, _size = sha256_of(bundle.path)
        if digest != bundle.sha256:
            return Answer("refused", f"its file's SHA-256 is now {digest}, not the "
                                     f"{bundle.sha256} it was written with; not sent",
                          local=True)
        return self.platform.submit(bundle.path, bundle.sha256)

    def _backoff(self, attempts: int) -> float:
        base = min(self.config.retry_max, self.config.retry_min * 2 ** min(attempts, 30))
        return base * self.rng.uniform(0.5, 1.0)

    def _next_delivery(self) -> dt.datetime:
        assert self.outbox is not None
        at = self.outbox.next_due()
        if at is None:
            return dt.datetime.max.replace(tzinfo=dt.UTC)
        return dt.datetime.fromtimestamp(max(at, time.time()), dt.UTC)

    def _sleep_until(self, moment: dt.datetime) -> None:
        seconds = (moment - self.clock()).total_seconds()
        self.stop.wait(max(0.05, min(seconds, 60.0)))


def _merged_lists(paths: list[Path]):
    """All the campaign's lists as one round (one bundle): bad lines are reported (with the
    list's name) and skipped, a URL in two lists is measured once."""
    from sentinelle.observatory.access.targets import TargetList, TargetListError, read_list

    merged = TargetList(name="+".join(p.name for p in paths)[:200])
    seen: set[str] = set()
    for path in paths:
        part = read_list(path)
        for problem in part.problems:
            log.warning("%s: %s (skipped)", path, problem)
            merged.problems.append(problem)
        for target in part.targets:
            if target.url not in seen:
                seen.add(target.url)
                merged.targets.append(target)
    if not merged.targets:
        raise TargetListError(f"no usable URL in {', '.join(str(p) for p in paths)}")
    return merged


def _cleanup(work: Path) -> None:
    import shutil

    shutil.rmtree(work, ignore_errors=True)


def configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s",
                                           "%Y-%m-%dT%H:%M:%S%z"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False

