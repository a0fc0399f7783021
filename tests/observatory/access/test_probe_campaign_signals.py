"""A signal that stops the campaign is never lost and never hangs the process.

CI saw the campaign log "signal 15: stopping" and then hang for good: its handler called
``threading.Event.set()``, which takes the lock that the interrupted ``Event.wait`` in the main
thread already held. The race is a few bytecodes wide, so the test hits it on purpose: a thread
sends thousands of signals while the main thread waits and re-arms the flag in a tight loop.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.paths import ROOT

SIGNALS = 3000

CHILD = textwrap.dedent(f"""
    import os, signal, threading, time
    from sentinelle.observatory.access.campaign.stopping import StopFlag

    flag = StopFlag()
    signal.signal(signal.SIGUSR1, lambda signum, _frame: flag.set(signum))
    seen = 0
    def send():
        for _ in range({SIGNALS}):
            os.kill(os.getpid(), signal.SIGUSR1)
            time.sleep(0.0001)
    sender = threading.Thread(target=send)
    sender.start()
    while sender.is_alive() or flag.is_set():
        if flag.wait(0.0):
            seen += 1
            old, flag = flag, StopFlag()       # re-arm: the next signal sets the new flag
            old.close()
    sender.join()
    print("woke", seen)
""")


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, cwd=ROOT, env={"PYTHONPATH": str(ROOT / "src"),
                                                     "PATH": "/usr/bin:/bin"})


def test_signals_set_the_flag_without_ever_blocking_the_process():
    done = _run(CHILD)
    assert done.returncode == 0, done.stderr[-2000:]
    woke = int(done.stdout.split()[-1])
    assert 0 < woke <= SIGNALS


def test_the_flag_ends_a_long_wait_at_once_when_set_by_a_signal():
    code = textwrap.dedent("""
        import os, signal, threading, time
        from sentinelle.observatory.access.campaign.stopping import StopFlag
        flag = StopFlag()
        signal.signal(signal.SIGTERM, lambda signum, _frame: flag.set(signum))
        threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM)).start()
        started = time.monotonic()
        assert flag.wait(30.0) and flag.signum == signal.SIGTERM
        print(round(time.monotonic() - started, 2))
    """)
    done = _run(code)
    assert done.returncode == 0, done.stderr[-2000:]
    assert float(done.stdout.strip()) < 5.0

