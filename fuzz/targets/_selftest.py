"""A target that fails on purpose, for tests/fuzz/test_fuzz.py to check the harness itself (the
leading underscore keeps it out of `make fuzz`)."""

import time

from fuzz.harness import Target


class Refused(ValueError):
    pass


def run(data: bytes) -> None:
    if data == b"refuse":
        raise Refused("no")
    if data == b"boom":
        raise KeyError("boom")
    if data == b"hang":
        time.sleep(30)
    if data == b"hog":
        hog = [bytearray(64 * 1024 * 1024) for _ in range(16)]   # 1 GiB, over the cap
        del hog


TARGET = Target(name="selftest", seeds=(), run=run, refusals=(Refused,), kind="text")
