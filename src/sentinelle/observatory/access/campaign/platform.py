"""Talking to the platform: POST a bundle to ``/api/v1/observatory/submissions/`` (multipart
``file`` + ``expect=probe``, bearer token) and follow the job it answers with
(``/api/v1/jobs/{id}/``).

Every answer is one ``Answer``:

- ``acknowledged``: the job succeeded — a new draft report, or the report the platform made the
  first time it got this bundle (same SHA-256: it answers with that report, never a second one);
- ``waiting``: the job is queued or running, ask again later;
- ``retry``: nothing is decided (connection refused, timeout, 5xx, 408, 429, a failed job whose
  ``failure`` is not ``refused``: its worker died or failed unexpectedly): sent again later;
- ``refused``: the platform refused the bundle for a reason resending will not change (the
  verifier's findings, a 4xx such as 400 or 413): moved aside, never retried.

401 and 403 raise ``TokenRefused``: the token is wrong, expired, read-only or not a focal
point's. That is about the campaign, not the bundle: the campaign stops with that message and
every bundle stays pending.
"""

from __future__ import annotations

import json
import math
import ssl
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Answer", "Platform", "TokenRefused"]

SUBMISSIONS = "/api/v1/observatory/submissions/"
JOBS = "/api/v1/jobs/{}/"
TIMEOUT = 120.0
# A failed job says why in `failure` (core/jobs.py): "refused" is the bundle's fault and will
# not change; anything else ("error", "interrupted", or none given) is the platform's, and the
# bundle is sent again: the outbox never drops a bundle on a doubt.
REFUSED_JOB = "refused"
MAX_ANSWER = 1 << 20
CHUNK = 1 << 20
# A platform's Retry-After is followed within these bounds: NaN, infinities, negative or
# enormous values (a hostile or broken answer) would crash the outbox (NaN is stored as NULL),
# park a bundle for ever, or make the loop hammer the platform.
RETRY_AFTER_MIN = 1.0
RETRY_AFTER_MAX = 86400.0


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are never followed: urllib would send the bearer token to whatever host the
    Location names (and turn a POST into a GET). The platform's API answers its own URLs; a
    redirect is an HTTP 3xx, judged as nothing decided."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001, PLR0913
        return None


class TokenRefused(Exception):
    """The platform refused the token (401/403): stop, the bundles stay in the outbox."""


@dataclass
class Answer:
    kind: str                       # acknowledged | waiting | retry | refused
    message: str = ""
    job_id: int | None = None
    report: str | None = None
    created: bool | None = None
    retry_after: float | None = None
    local: bool = False             # decided here, not by the platform (a changed file)


class Platform:
    def __init__(self, url: str, token: str, ca_file: Path | None = None,
                 timeout: float = TIMEOUT) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.context = None
        if self.url.startswith("https://"):
            self.context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        self.opener = urllib.request.build_opener(
            _NoRedirect(), urllib.request.HTTPSHandler(context=self.context))

    def submit(self, path: Path, sha256: str | None = None) -> Answer:
        """POST the bundle, streamed from disk (a bundle of a long list with its transcripts
        may be large: it is never held in memory). With ``sha256``, a job that names another
        input is no acknowledgement of this bundle."""
        boundary = uuid.uuid4().hex
        head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"expect\"\r\n\r\n"
                f"probe\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                f"filename=\"{path.name}\"\r\nContent-Type: application/zip\r\n\r\n").encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        size = path.stat().st_size

        def body():
            yield head
            with open(path, "rb") as handle:
                while chunk := handle.read(CHUNK):
                    yield chunk
            yield tail
        return self._call("POST", SUBMISSIONS, body(),
                          f"multipart/form-data; boundary={boundary}",
                          length=len(head) + size + len(tail), sha256=sha256)

    def job(self, job_id: int, sha256: str | None = None) -> Answer:
        answer = self._call("GET", JOBS.format(int(job_id)), sha256=sha256)
        if answer.kind == "refused" and answer.message.startswith("HTTP 404"):
            # The job is gone (the platform's jobs are pruned): submit the bundle again.
            return Answer("retry", f"job {job_id} no longer exists; the bundle is sent again",
                          retry_after=0)
        return answer

    def _call(self, method: str, path: str, body: Iterator[bytes] | None = None,
              content_type: str | None = None, length: int | None = None,
              sha256: str | None = None) -> Answer:
        # The config accepts only http(s):// URLs (config.url)
        request = urllib.request.Request(self.url + path, data=body,  # noqa: S310
                                         method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Accept", "application/json")
        request.add_header("Accept-Language", "en")
        if content_type:
            request.add_header("Content-Type", content_type)
        if length is not None:
            request.add_header("Content-Length", str(length))
        try:
            with self.opener.open(request, timeout=self.timeout) as response:
                return _judge_job(_json(self._read(response)), sha256)
        except urllib.error.HTTPError as exc:
            try:
                text = self._read(exc, 4096).decode("utf-8", "replace")
            except (OSError, TimeoutError, AttributeError):
                text = ""
            return _judge_status(exc, text)
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            return Answer("retry", f"platform unreachable: {reason}")
        except ValueError as exc:
            return Answer("retry", f"the platform's answer is not a job: {exc}")


    def _read(self, response, limit: int = MAX_ANSWER) -> bytes:
        """At most MAX_ANSWER bytes, within ``timeout`` in all: the socket timeout bounds each
        read only, and a platform dripping a byte at a time would hold the campaign (and its
        rounds) for days."""
        deadline = time.monotonic() + self.timeout
        data = b""
        while len(data) < limit:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the answer took more than {self.timeout:.0f} s")
            chunk = response.read1(limit - len(data))
            if not chunk:
                break
            data += chunk
        return data


def _json(data: bytes) -> dict:
    value = json.loads(data)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def _judge_job(job: dict, sha256: str | None = None) -> Answer:
    status = job.get("status")
    raw_id = job.get("id")
    # A job number the outbox can store (SQLite: 64 bits) and ask about; anything else is no
    # job (a bool is an int in Python).
    job_id = raw_id if (isinstance(raw_id, int) and not isinstance(raw_id, bool)
                        and 0 < raw_id < 2**63) else None
    message = str(job.get("message") or "")
    named = job.get("input_sha256")
    if sha256 and named and named != sha256:
        # A job about another bundle (a job id reused after pruning, a confused or hostile
        # platform): this bundle is sent again, never acknowledged on another's success.
        return Answer("retry", f"the platform's job {job_id} is about another bundle "
                               f"({str(named)[:64]}); the bundle is sent again", retry_after=0)
    if status == "succeeded":
        result = job.get("result") if isinstance(job.get("result"), dict) else {}
        return Answer("acknowledged", message, job_id, str(result.get("report") or "") or None,
                      bool(result.get("created")))
    if status == "failed":
        if job.get("failure") != REFUSED_JOB:
            return Answer("retry", f"the platform's job failed: {message}", None)
        return Answer("refused", message or "the platform refused the bundle", job_id)
    if status in ("queued", "running") and job_id is not None:
        return Answer("waiting", f"job {job_id} {status}", job_id)
    raise ValueError(f"unexpected job status {str(status)[:40]!r}")


def _judge_status(exc: urllib.error.HTTPError, text: str) -> Answer:
    code = exc.code
    detail = _detail(text)
    if code in (401, 403):
        raise TokenRefused(f"the platform refused the token (HTTP {code}: {detail}); check "
                           "platform.token_file: it must hold a write token of a focal point")
    if code in (408, 429) or code >= 500:
        retry_after = exc.headers.get("Retry-After") if exc.headers else None
        try:
            seconds = float(retry_after) if retry_after else None
        except ValueError:
            seconds = None
        if seconds is not None:
            seconds = (min(max(seconds, RETRY_AFTER_MIN), RETRY_AFTER_MAX)
                       if not math.isnan(seconds) else None)
        return Answer("retry", f"HTTP {code}: {detail}", retry_after=seconds)
    if 400 <= code < 500:
        return Answer("refused", f"HTTP {code}: {detail}")
    return Answer("retry", f"unexpected HTTP {code}: {detail}")


def _detail(text: str) -> str:
    try:
        value = json.loads(text)
    except ValueError:
        return text.strip()[:300] or "no detail"
    if isinstance(value, dict) and "detail" in value:
        return str(value["detail"])[:300]
    return json.dumps(value, ensure_ascii=False)[:300]
