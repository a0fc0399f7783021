"""Issue 13, point 4: choosing the task backend and Redis from the environment.

A wrong SENTINELLE_TASK_BACKEND or SENTINELLE_REDIS_URL is one line naming the variable, from
the `sentinelle` command as from any other bad setting, and never a traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sentinelle.env import SettingError, env_choice, env_redis_url


def test_env_choice_accepts_the_listed_values_and_names_them_when_refusing():
    assert env_choice("B", "database", ["database", "rq"], environ={"B": " RQ "}) == "rq"
    assert env_choice("B", "database", ["database", "rq"], environ={}) == "database"
    with pytest.raises(SettingError, match=r"B='celery' is not one of: database, rq"):
        env_choice("B", "database", ["database", "rq"], environ={"B": "celery"})


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/0", "rediss://:secret@cache.example/2",
                                 "unix:///run/redis/redis.sock?db=1", "redis://redis"])
def test_env_redis_url_accepts_redis_urls(url):
    assert env_redis_url("R", "", environ={"R": url}) == url


@pytest.mark.parametrize(("url", "why"), [
    ("127.0.0.1:6379", "redis://, rediss:// or unix://"),
    ("http://cache.example/", "redis://, rediss:// or unix://"),
    ("redis://cache.example:port/0", "port"),
    ("redis://cache.example:6379/zero", "database number"),
    ("redis://:6379/0", "host"),
    ("unix://", "socket path"),
])
def test_env_redis_url_refuses_what_redis_could_not_use(url, why):
    with pytest.raises(SettingError) as caught:
        env_redis_url("SENTINELLE_REDIS_URL", "", environ={"SENTINELLE_REDIS_URL": url})
    message = str(caught.value)
    assert message.startswith("SENTINELLE_REDIS_URL=") and why in message
    assert "\n" not in message


def test_a_password_in_a_bad_redis_url_is_not_repeated():
    with pytest.raises(SettingError) as caught:
        env_redis_url("R", "", environ={"R": "redis://:hunter2hunter2@cache.example:x/0"})
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("SENTINELLE_TASK_BACKEND", "celery", "SENTINELLE_TASK_BACKEND='celery' is not one of"),
    ("SENTINELLE_REDIS_URL", "localhost:6379", "SENTINELLE_REDIS_URL="),
])
def test_the_command_reports_a_bad_task_setting_in_one_line(tmp_path, name, value, expected):
    env = {key: val for key, val in os.environ.items() if not key.startswith("SENTINELLE_")}
    env.update({"SENTINELLE_DATA_DIR": str(tmp_path), name: value})
    run = subprocess.run([sys.executable, "-m", "sentinelle.cli", "check"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    assert run.stderr.strip().splitlines() == [
        line for line in run.stderr.strip().splitlines() if line.startswith("sentinelle:")]
    assert expected in run.stderr and "Traceback" not in run.stderr


def test_rqworker_without_the_rq_backend_says_which_setting_to_change(tmp_path):
    env = {key: val for key, val in os.environ.items() if not key.startswith("SENTINELLE_")}
    env.update({"SENTINELLE_DATA_DIR": str(tmp_path), "SENTINELLE_TASK_BACKEND": "database"})
    run = subprocess.run([sys.executable, "-m", "sentinelle.cli", "rqworker", "--burst"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    assert "SENTINELLE_TASK_BACKEND is 'database'" in run.stderr
    assert "sentinelle db_worker" in run.stderr and "Traceback" not in run.stderr
