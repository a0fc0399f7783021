"""The campaign's stop flag, set by SIGTERM/SIGINT and waited on by the loop.

``threading.Event`` cannot be set from a signal handler: the handler runs in the main thread
between two bytecodes, possibly inside ``Event.wait`` while it holds the event's lock, and
``set()`` then waits for that lock forever (the process logs "stopping" and never stops; seen in
CI). This flag only assigns a boolean and writes one byte to a pipe, both safe at any point; the
loop sleeps in ``poll`` on the pipe, so a signal ends the sleep at once.
"""

from __future__ import annotations

import contextlib
import os
import select

__all__ = ["StopFlag"]


class StopFlag:
    def __init__(self) -> None:
        self.signum: int | None = None
        self._set = False
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)

    def set(self, signum: int | None = None) -> None:
        if signum is not None and self.signum is None:
            self.signum = signum
        self._set = True
        # A full pipe already holds a byte (a closed one: the process is ending): the flag is
        # what counts.
        with contextlib.suppress(OSError):
            os.write(self._write, b"x")

    def is_set(self) -> bool:
        return self._set

    def wait(self, timeout: float) -> bool:
        """Sleep up to ``timeout`` seconds or until set; True when set. A signal that arrives
        between the check and ``poll`` has already written its byte, so it is not missed."""
        if not self._set and self._read >= 0:
            # poll, not select: select refuses a descriptor numbered 1024 or more (a flag made
            # in a process with many files open raised ValueError instead of sleeping).
            waiter = select.poll()
            waiter.register(self._read, select.POLLIN)
            waiter.poll(max(0.0, timeout) * 1000)
        return self._set

    def close(self) -> None:
        # Forget the descriptors before closing them: the handler stays installed, and a signal
        # after close() would otherwise write its byte into whatever file reused the number.
        fds, self._read, self._write = (self._read, self._write), -1, -1
        for fd in fds:
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
