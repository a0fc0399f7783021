"""Attack: a hostile control helper (an impostor on an unpinned line, a compromised or buggy
helper) answers with JSON that is valid but not what the probe expects. One URL's bad control
answer must make that URL inconclusive, never end the run and lose every other line."""

from __future__ import annotations

import asyncio
import json

import pytest

pytest.importorskip("dnslib")
pytest.importorskip("trustme")
pytest.importorskip("mmdb_writer")

from sentinelle.observatory.access import cli  # noqa: E402
from sentinelle.observatory.access import helper as h  # noqa: E402
from sentinelle.observatory.access.verdict_names import VERDICTS  # noqa: E402
from tests import probe_farm  # noqa: E402
from tests.probe_farm import TOKEN, LoopThread  # noqa: E402
from tests.test_probe_run import probe_args, read_lines  # noqa: E402

GOOD_QUERY = {"hostname": "x", "query_type": "A", "engine": "system", "failure": None,
              "answers": [{"answer_type": "A", "ipv4": "192.0.2.1"}]}
# measurement answers that json.loads accepts but whose parts have the wrong type
HOSTILE = {
    "answers-not-a-list": {"queries": [{**GOOD_QUERY, "answers": 1}], "requests": []},
    "requests-of-strings": {"queries": [GOOD_QUERY], "requests": "abc"},
    "response-code-huge": {"queries": [GOOD_QUERY], "requests": [
        {"response": {"code": 10 ** 30, "headers_list": [[1, 2, 3]], "body": 5}}]},
    "headers-as-numbers": {"queries": [GOOD_QUERY], "requests": [
        {"response": {"code": 200, "headers_list": 7, "headers": [1], "body": {"format":
                      "base64", "data": 5}}}], "tcp_connect": 3, "tls_handshakes": {}},
}


class HostileHelper:
    def __init__(self, measurement_body: bytes) -> None:
        self.body = measurement_body
        self.thread = LoopThread("i15-hostile")
        self.server = self.thread.call(asyncio.start_server(self._handle, "127.0.0.3", 0))
        self.url = f"http://127.0.0.3:{self.server.sockets[0].getsockname()[1]}"

    async def _handle(self, reader, writer) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(next((line.split(b":")[1] for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length")), b"0"))
            await reader.readexactly(length)
            body = (json.dumps({"vantage": {}, "client_ip": "127.0.0.2"}).encode()
                    if b"/v1/identity" in head.split(b"\r\n")[0] else self.body)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    def stop(self) -> None:
        self.server.close()
        self.thread.stop()


@pytest.fixture(scope="module")
def farm(tmp_path_factory):
    yield from probe_farm.running_farm(tmp_path_factory.mktemp("farm"))


def _run(farm, tmp_path, body: bytes) -> tuple[int, list[dict]]:
    helper = HostileHelper(body)
    try:
        listing = tmp_path / "list.csv"
        listing.write_text("url,category_code,notes\n"
                           f"{farm.url('accessible-https')},NEWS,a\n"
                           f"{farm.url('cloudflare-1009-https')},NEWS,b\n", encoding="utf-8")
        output = tmp_path / "out.jsonl"
        code = cli.main(probe_args(farm, helper.url, listing, output))
        return code, read_lines(output) if output.exists() else []
    finally:
        helper.stop()


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_control_measurement_of_the_wrong_shape_makes_the_url_inconclusive(farm, tmp_path,
                                                                            name):
    """Hole ("answers-not-a-list"): iterating ``"answers": 1`` raised TypeError inside the
    verdict, which ended the whole run with a traceback and no line written."""
    body = json.dumps({"measurement": HOSTILE[name]}).encode()
    code, lines = _run(farm, tmp_path, body)
    assert code == 0
    assert len(lines) == 2
    assert all(line["verdict"] in VERDICTS for line in lines)


def test_a_deeply_nested_control_answer_is_a_control_failure(farm, tmp_path):
    """Hole: json.loads raises RecursionError (not ValueError) on ``[[[[…`` 100,000 deep; the
    client let it through and the run ended with a traceback."""
    code, lines = _run(farm, tmp_path, b"[" * 100_000 + b"]" * 100_000)
    assert code == 0
    assert [line["verdict"] for line in lines] == ["inconclusive", "inconclusive"]
    assert all("not JSON" in line["verdict_reasons"][0] or "nested" in line["verdict_reasons"][0]
               for line in lines)


def test_the_client_names_a_deeply_nested_answer():
    helper = HostileHelper(b"{\"a\":" * 50_000 + b"1" + b"}" * 50_000)
    try:
        async def go():
            return await h.ControlClient(helper.url, TOKEN, timeout=3).measure("https://x.test/")
        with pytest.raises(h.ControlError, match="not JSON|nested"):
            asyncio.run(go())
    finally:
        helper.stop()


@pytest.mark.parametrize("answers", [1, True, 1.5, "abc", {"ipv4": "192.0.2.1"}])
def test_a_control_query_whose_answers_are_not_a_list_is_read_as_no_answer(answers):
    """Hole: ``for answer in query.get("answers") or []`` raised TypeError on a number, both in
    the DNS comparison and in the OONI line's control part."""
    from sentinelle.observatory.access import dns_check, ooni

    control = {"queries": [{**GOOD_QUERY, "answers": answers}]}
    assert ooni.control_response(control)["dns"]["addrs"] == []
    assert dns_check.dns_answers(control, None).addresses == set()


def test_any_error_judging_a_control_answer_makes_only_that_url_inconclusive(farm, tmp_path,
                                                                            monkeypatch):
    """Defence in depth: whatever else in a control answer the verdict or the OONI line cannot
    read (here: the control part of the line fails), the URL is judged without the control."""
    from sentinelle.observatory.access import ooni

    def broken(control):
        raise TypeError("a shape nobody foresaw")
    monkeypatch.setattr(ooni, "control_response", broken)
    good = {"queries": [GOOD_QUERY], "requests": []}
    code, lines = _run(farm, tmp_path, json.dumps({"measurement": good}).encode())
    assert code == 0
    assert [line["verdict"] for line in lines] == ["inconclusive", "inconclusive"]
    assert all("cannot read (TypeError: a shape nobody foresaw)" in line["verdict_reasons"][0]
               for line in lines)
