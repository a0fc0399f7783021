"""The campaign's reading of the platform's answers (campaign/platform.py) against a server that
answers anything: each status and each malformed body maps to retry, refused, waiting,
acknowledged or a stop, never an exception out of the client."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sentinelle.observatory.access.campaign.platform import Platform, TokenRefused

ANSWERS: dict[str, tuple[int, dict[str, str], bytes]] = {}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *_args) -> None:
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        code, headers, body = ANSWERS["next"]
        self.send_response(code)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer  # noqa: N815 - http.server's names


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def job(**fields) -> bytes:
    return json.dumps({"id": 7, "status": "queued", "message": "", "result": {}, **fields}
                      ).encode()


@pytest.mark.parametrize(("code", "headers", "body", "kind", "says"), [
    (202, {}, job(status="succeeded", result={"report": "CU-2026-00001", "created": False}),
     "acknowledged", ""),
    (202, {}, job(status="queued"), "waiting", "job 7 queued"),
    (202, {}, job(status="failed", failure="refused",
                  message="measurements.jsonl: SHA-256 mismatch"), "refused", "SHA-256 mismatch"),
    # Why a job failed is read from `failure`, never from the message's (translated) words.
    (202, {}, job(status="failed", failure="error", message="Le travail a échoué"), "retry",
     "Le travail a échoué"),
    (202, {}, job(status="failed", failure="interrupted", message="…"), "retry", "job failed"),
    (202, {}, job(status="failed", message="no reason given"), "retry", "no reason given"),
    (202, {}, job(status="exploded"), "retry", "unexpected job status"),
    (202, {}, job(status="running", id="seven"), "retry", "unexpected job status"),
    (202, {}, b"<html>proxy error</html>", "retry", "not a job"),
    (202, {}, b"[1, 2]", "retry", "not a job"),
    (202, {}, b'{"status": "succeeded", "result": "nope"}', "acknowledged", ""),
    (200, {}, b"\xff\xfe", "retry", "not a job"),
    (400, {}, b'{"file": ["The file is too large: the limit is 100 bytes."]}', "refused",
     "HTTP 400"),
    (413, {}, b"too large", "refused", "HTTP 413: too large"),
    (404, {}, b"", "refused", "HTTP 404"),
    (408, {}, b"", "retry", "HTTP 408"),
    (429, {"Retry-After": "42"}, b'{"detail": "Request was throttled."}', "retry",
     "throttled"),
    (429, {"Retry-After": "soon"}, b"", "retry", "HTTP 429"),
    (502, {}, b"bad gateway", "retry", "HTTP 502"),
    (503, {}, b"x" * 100_000, "retry", "HTTP 503"),
])
def test_every_answer_is_judged(server, tmp_path, code, headers, body, kind, says):
    ANSWERS["next"] = (code, headers, body)
    bundle = tmp_path / "b.zip"
    bundle.write_bytes(b"PK" + b"\0" * 100)
    answer = Platform(server, "token").submit(bundle)
    assert answer.kind == kind and says in answer.message
    assert len(answer.message) < 5000
    if code == 429 and headers.get("Retry-After") == "42":
        assert answer.retry_after == 42


@pytest.mark.parametrize("code", [401, 403])
def test_a_refused_token_stops(server, tmp_path, code):
    ANSWERS["next"] = (code, {}, b'{"detail": "Invalid token."}')
    bundle = tmp_path / "b.zip"
    bundle.write_bytes(b"PK")
    with pytest.raises(TokenRefused, match=f"HTTP {code}: Invalid token.*platform.token_file"):
        Platform(server, "token").submit(bundle)


def test_a_job_that_no_longer_exists_means_submit_again(server):
    ANSWERS["next"] = (404, {}, b'{"detail": "Not found."}')
    answer = Platform(server, "token").job(7)
    assert answer.kind == "retry" and answer.retry_after == 0


def test_an_unreachable_platform_is_a_retry(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    bundle = tmp_path / "b.zip"
    bundle.write_bytes(b"PK")
    answer = Platform(f"http://127.0.0.1:{port}", "token", timeout=2).submit(bundle)
    assert answer.kind == "retry" and "unreachable" in answer.message
