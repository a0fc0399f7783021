"""Issue 13, point 4: jobs on RQ and Redis (SENTINELLE_TASK_BACKEND=rq).

Everything runs as in production, in processes of its own: a redis-server on a loopback port
with its files in a temporary directory, an instance (data directory, SQLite database, migrated
by `sentinelle migrate`), two `sentinelle rqworker` processes, and tests/core/rq_driver.py, which
starts jobs and reads their state as the web application would.

- Import, Council report and bundle jobs are shared by both workers and all succeed, with the
  right results and files.
- A worker killed in the middle of a job ends that job failed, with a reason the user can read;
  it is not retried (a half-run import is not known to be safe to run twice), and it does not
  stay "running". Killing the work horse (what the out-of-memory killer does) is seen at once;
  killing the whole worker is seen by the next maintenance once the job's heartbeat has expired
  (about 90 s): the test runs that maintenance with the clock moved on instead of waiting.
- /healthz and /metrics give the Redis queue's depth and the age of its oldest job, and
  /healthz says "error" when Redis does not answer.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.paths import ROOT

STOPPED = ("The job stopped before it finished: the process running it ended (it may have "
           "been restarted or run out of memory). Start it again.")


def _need_redis_server() -> str:
    path = shutil.which("redis-server")
    if path is None:
        reason = "redis-server is not on PATH (Debian: redis-server)"
        # .ci/run installs it: there a skip would hide untested RQ workers.
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def redis_url(tmp_path):
    import redis

    binary = _need_redis_server()
    port = _free_port()
    workdir = tmp_path / "redis"
    workdir.mkdir()
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir),
         "--save", "", "--appendonly", "no", "--logfile", str(workdir / "redis.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    try:
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert server.poll() is None, (workdir / "redis.log").read_text()
                time.sleep(0.05)
        yield url
    finally:
        client.close()
        server.terminate()
        server.wait(timeout=10)


class Instance:
    """A Sentinelle instance on RQ, driven from outside as an operator would."""

    def __init__(self, tmp_path: Path, redis_url: str):
        self.tmp, self.redis_url = tmp_path, redis_url
        self.data = tmp_path / "data"
        self.data.mkdir()
        self.env = {name: value for name, value in os.environ.items()
                    if not (name.startswith("SENTINELLE_")
                            or name in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE"))}
        self.env.update({"SENTINELLE_DATA_DIR": str(self.data), "SENTINELLE_TASK_BACKEND": "rq",
                         "SENTINELLE_REDIS_URL": redis_url,
                         "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])})
        self.workers: list[subprocess.Popen] = []
        self.horses: list[int] = []

    def run(self, *args: str) -> str:
        done = subprocess.run([sys.executable, *args], env=self.env, cwd=ROOT,
                              capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def driver(self, *args: str):
        return json.loads(self.run("-m", "tests.core.rq_driver", *args).strip().splitlines()[-1])

    def start_worker(self, name: str, *, via_driver: bool = False) -> subprocess.Popen:
        """`sentinelle rqworker`, exactly as documented; via_driver adds the test's blocking
        job kind. A session of its own, so that the whole worker can be killed at once."""
        command = (["-m", "tests.core.rq_driver", "worker"] if via_driver
                   else ["-m", "sentinelle.cli", "rqworker"])
        log = open(self.tmp / f"{name}.log", "wb")  # noqa: SIM115 - the worker writes it
        worker = subprocess.Popen([sys.executable, *command, "--name", name], env=self.env,
                                  cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
        log.close()
        self.workers.append(worker)
        return worker

    def rq_workers(self) -> dict:
        """Each live worker's name: (state, jobs it finished, jobs that failed on it)."""
        import redis
        from rq.worker import Worker

        with redis.Redis.from_url(self.redis_url) as connection:
            return {worker.name: (worker.get_state(), worker.successful_job_count,
                                  worker.failed_job_count)
                    for worker in Worker.all(connection=connection)}

    def wait_idle(self, names: set[str], timeout: float = 60) -> None:
        """Until every named worker is waiting on the queue: then each job enqueued goes to
        the worker that has waited longest, and both get some."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = self.rq_workers()
            if names <= set(states) and all(states[n][0] == "idle" for n in names):
                time.sleep(0.5)  # from "idle" to blocking on the queue
                return
            for worker in self.workers:
                assert worker.poll() is None, self.logs()
            time.sleep(0.2)
        raise AssertionError(f"workers not ready: {self.rq_workers()}\n{self.logs()}")

    def wait_ended(self, job_ids: list[int], timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            jobs = self.driver("status")
            if all(jobs[str(pk)]["status"] in ("succeeded", "failed") for pk in job_ids):
                return jobs
            time.sleep(0.5)
        raise AssertionError(f"jobs not ended: {self.driver('status')}\n{self.logs()}")

    def logs(self) -> str:
        return "\n".join(path.read_text(errors="replace")[-3000:]
                         for path in sorted(self.tmp.glob("*.log")))

    def stop(self) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(timeout=10)
        # RQ runs each job in a process group of its own: killing the worker's group leaves it.
        for pid in self.horses:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def instance(tmp_path, redis_url):
    instance = Instance(tmp_path, redis_url)
    instance.run("-m", "sentinelle.cli", "migrate", "-v0")
    yield instance
    instance.stop()


def _metric(text: str, name: str) -> float:
    return next(float(line.split()[-1]) for line in text.splitlines()
                if line.startswith(name + " "))


def test_two_workers_share_import_report_and_bundle_jobs_and_all_succeed(instance):
    instance.start_worker("w1")
    instance.start_worker("w2")
    instance.wait_idle({"w1", "w2"})

    job_ids = instance.driver("enqueue", str(instance.tmp))
    assert len(job_ids) == 7
    jobs = instance.wait_ended(job_ids)

    assert {pk: jobs[str(pk)]["status"] for pk in job_ids} == {pk: "succeeded" for pk in job_ids}, (
        jobs, instance.logs())
    workers = instance.rq_workers()
    assert workers["w1"][1] > 0 and workers["w2"][1] > 0, workers
    assert workers["w1"][1] + workers["w2"][1] == 7 and workers["w1"][2] == workers["w2"][2] == 0
    by_kind: dict[str, list[dict]] = {}
    for pk in job_ids:
        by_kind.setdefault(jobs[str(pk)]["kind"], []).append(jobs[str(pk)])
    # The imports wrote the reports their files hold: 2 IODEF incidents, 5 VERIS, 1 MISP event.
    imports = by_kind["import"]
    assert [(job["result"]["format"], job["result"]["reports_created"], job["result"]["written"])
            for job in imports] == [("iodef", 2, True), ("veris", 5, True), ("misp", 1, True)]
    # The Council reports' files are there, whole, in the instance's media directory.
    media = instance.data / "media"
    html, pdf = by_kind["council-report"]
    assert html["result"]["document"].endswith(".html") and pdf["result"]["document"].endswith(
        ".pdf")
    assert b"<html" in (media / html["output"]).read_bytes()[:2000].lower()
    pdf_bytes = (media / pdf["output"]).read_bytes()
    assert pdf_bytes.startswith(b"%PDF-") and pdf_bytes.rstrip().endswith(b"%%EOF")
    # Each verified bundle made its own draft report.
    bundles = by_kind["observatory-submit"]
    assert all(job["result"]["created"] for job in bundles)
    assert len({job["result"]["report"] for job in bundles}) == 2
    # No job kept its input file once ended (they may hold TLP:RED material).
    assert all(jobs[str(pk)]["input"] == "" for pk in job_ids)
    assert sorted(path.name for path in (media / "jobs").rglob("*") if path.is_file()) == sorted(
        Path(job["output"]).name for job in (html, pdf))

    health = instance.driver("health")
    assert health["status"] == "ok"
    assert health["checks"]["tasks"] == {
        "status": "ok", "backend": "RQBackend", "checked": True, "ready": 0,
        "oldest_ready_seconds": None, "max_age_seconds": 300}


def test_a_killed_worker_ends_its_job_failed_never_running(instance):
    # Nothing runs yet: /healthz and /metrics see the job waiting in Redis.
    first = instance.driver("block", str(instance.tmp / "started-1"))
    time.sleep(1.1)
    health = instance.driver("health")
    tasks = health["checks"]["tasks"]
    assert (tasks["backend"], tasks["checked"], tasks["ready"]) == ("RQBackend", True, 1)
    assert tasks["oldest_ready_seconds"] >= 1.0
    assert _metric(health["metrics"], "sentinelle_task_queue_ready") == 1
    assert _metric(health["metrics"], "sentinelle_task_queue_oldest_ready_seconds") >= 1.0

    # The work horse running the job is killed (as the out-of-memory killer would): the worker
    # ends the job failed at once, and goes on to the next one.
    worker = instance.start_worker("w1", via_driver=True)
    horse = _wait_started(instance, instance.tmp / "started-1")
    os.kill(horse, signal.SIGKILL)
    jobs = instance.wait_ended([first], timeout=30)
    assert (jobs[str(first)]["status"], jobs[str(first)]["message"]) == ("failed", STOPPED)
    assert worker.poll() is None

    # The whole worker is killed with its horse mid-job, as when its machine stops. While its
    # heartbeat lasts, another worker's maintenance leaves the job alone (it may still be
    # running somewhere) ...
    second = instance.driver("block", str(instance.tmp / "started-2"))
    horse = _wait_started(instance, instance.tmp / "started-2")
    os.killpg(worker.pid, signal.SIGKILL)
    os.kill(horse, signal.SIGKILL)  # in a group of its own (RQ's fork calls setpgrp)
    worker.wait(timeout=10)
    instance.run("-m", "tests.core.rq_driver", "maintain", "30")
    assert instance.driver("status")[str(second)]["status"] == "running"
    # ... and once the heartbeat has expired (90 s), the job ends failed, not retried.
    instance.run("-m", "tests.core.rq_driver", "maintain", "150")
    job = instance.driver("status")[str(second)]
    assert (job["status"], job["message"]) == ("failed", STOPPED)
    assert instance.driver("health")["checks"]["tasks"]["ready"] == 0

    # Redis gone: /healthz says the queue cannot be read, naming nothing of why.
    import redis

    with contextlib.suppress(redis.ConnectionError), redis.Redis.from_url(
            instance.redis_url) as client:
        client.shutdown(nosave=True)
    health = instance.driver("health")
    assert health["status"] == "error"
    assert health["checks"]["tasks"] == {"status": "error", "backend": "RQBackend",
                                         "checked": True}
    assert "sentinelle_task_queue_ready" not in health["metrics"]


def _wait_started(instance: Instance, marker: Path, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if marker.exists() and marker.read_text():
            instance.horses.append(int(marker.read_text()))
            return instance.horses[-1]
        time.sleep(0.1)
    raise AssertionError(f"the job did not start\n{instance.logs()}")
