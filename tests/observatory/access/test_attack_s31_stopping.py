"""Attack on the campaign's signal-safe stop flag (observatory/access/campaign/stopping.py)."""

from __future__ import annotations

import os
import resource
import signal
import threading
import time

import pytest

from sentinelle.observatory.access.campaign.stopping import StopFlag


def test_a_signal_after_close_writes_into_no_other_file():
    # The handler stays installed after the campaign closes; the pipe's numbers are reused by
    # the next file opened. A byte written there would land in a log, a socket, a database.
    flag = StopFlag()
    flag.close()
    read, write = os.pipe()   # the lowest free numbers: those the flag just closed
    try:
        os.set_blocking(read, False)
        flag.set(signal.SIGTERM)
        assert flag.is_set() and flag.signum == signal.SIGTERM
        try:
            leaked = os.read(read, 16)
        except BlockingIOError:
            leaked = b""
        assert leaked == b""
        assert flag.wait(0.01) is True
    finally:
        os.close(read)
        os.close(write)


def test_closing_twice_closes_no_other_file():
    flag = StopFlag()
    flag.close()
    read, write = os.pipe()
    try:
        flag.close()
        os.write(write, b"y")
        assert os.read(read, 1) == b"y"
    finally:
        os.close(read)
        os.close(write)


def test_a_storm_of_sets_past_the_pipes_capacity_neither_blocks_nor_raises():
    flag = StopFlag()
    try:
        started = time.monotonic()
        for _ in range(200_000):
            flag.set(signal.SIGINT)
        assert time.monotonic() - started < 10
        assert flag.is_set() and flag.signum == signal.SIGINT and flag.wait(5) is True
    finally:
        flag.close()


def test_a_storm_of_real_signals_ends_the_wait_and_keeps_the_first_signal():
    flag = StopFlag()
    previous = {s: signal.signal(s, lambda signum, _f: flag.set(signum))
                for s in (signal.SIGUSR1, signal.SIGUSR2)}
    stop = threading.Event()

    def storm() -> None:
        os.kill(os.getpid(), signal.SIGUSR1)
        for _ in range(2000):
            if stop.is_set():
                return
            os.kill(os.getpid(), signal.SIGUSR2)

    sender = threading.Thread(target=storm)
    try:
        started = time.monotonic()
        sender.start()
        assert flag.wait(30) is True
        assert time.monotonic() - started < 10
        assert flag.signum == signal.SIGUSR1
    finally:
        stop.set()
        sender.join()
        for s, handler in previous.items():
            signal.signal(s, handler)
        flag.close()


def test_the_flag_waits_and_wakes_with_a_descriptor_past_1024():
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1200:
        pytest.skip(f"only {soft} files may be open")
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    flag = StopFlag()
    try:
        started = time.monotonic()
        assert flag.wait(0.05) is False
        assert time.monotonic() - started >= 0.04
        flag.set(signal.SIGTERM)
        assert flag.wait(30) is True
    finally:
        flag.close()
        for fd in held:
            os.close(fd)
