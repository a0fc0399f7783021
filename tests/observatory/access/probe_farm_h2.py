"""The test farm's HTTP/2 server (issue 15, point 3: "fetch as a browser does").

One TLS port offering ALPN ``h2`` and ``http/1.1`` (certificate from the farm's trustme CA),
speaking HTTP/2 with the ``h2`` library server side, or HTTP/1.1 for clients that did not
offer h2. By virtual host:

- ``h2geo.farm.test``: Cloudflare's 1009 page (403) to Cuban clients *over h2 only*, the site
  over HTTP/1.1 and to everyone else: a probe that speaks only HTTP/1.1 misses the block;
- ``browseronly.farm.test``: CloudFront's country block to Cuban clients whose request looks
  like a browser's (``sec-fetch-mode`` present), the site to bare clients;
- ``cookie.farm.test``: ``/`` answers 302 to ``/home`` with a session cookie; ``/home`` refuses
  (403) a request without it;
- ``gzip.farm.test``: the site compressed by ``Accept-Encoding`` (``/`` gzip, ``/br``,
  ``/deflate``), ``/bomb`` 10 MB of zeros gzipped, ``/bad`` garbage labelled gzip, ``/big``
  300 kB (the body cap over h2);
- over h2 only, broken answers: ``rst.farm.test`` resets the stream after the headers,
  ``goaway.farm.test`` sends GOAWAY (PROTOCOL_ERROR) instead of an answer,
  ``trunc.farm.test`` sends half the body and closes the connection.

``requests`` keeps, per host, the protocol and header list of each request, so tests can check
what the probe and the helper sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import ssl
import zlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.observatory.access.probe_farm import Farm

HOSTS = ("h2geo", "browseronly", "cookie", "gzip", "rst", "goaway", "trunc")
COOKIE = "farmsession=granted-0123"


class H2Site:
    def __init__(self, farm: Farm) -> None:
        self.farm = farm
        self.ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        farm.ca.issue_cert("*.farm.test", "*.bench.test").configure_cert(self.ctx)
        self.ctx.set_alpn_protocols(["h2", "http/1.1"])
        self.requests: dict[str, list[tuple[str, list[tuple[str, str]]]]] = {}

    async def start(self) -> int:
        from tests.observatory.access.probe_farm import SERVER_IP

        server = await asyncio.start_server(self.handle, SERVER_IP, 0, ssl=self.ctx,
                                            ssl_handshake_timeout=10, backlog=256)
        self.farm.servers.append(server)
        return server.sockets[0].getsockname()[1]

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            ssl_object = writer.get_extra_info("ssl_object")
            cc = self.farm.country(writer.get_extra_info("peername")[0])
            if ssl_object is not None and ssl_object.selected_alpn_protocol() == "h2":
                await asyncio.wait_for(self.serve_h2(reader, writer, cc), 30)
            else:
                await asyncio.wait_for(self.serve_h1(reader, writer, cc), 30)
        except (OSError, asyncio.IncompleteReadError, ssl.SSLError, TimeoutError,
                asyncio.LimitOverrunError, ValueError, asyncio.CancelledError):
            pass
        except Exception:  # noqa: BLE001, S110 - h2's protocol errors: the client's test
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    # -- what to answer

    def answer(self, host: str, path: str, headers: list[tuple[str, str]], protocol: str,
               cc: str | None) -> tuple[int, list[tuple[str, str]], bytes, str | None]:
        """(status, headers, body, breakage) for one request."""
        from tests.observatory.access import probe_farm as pf

        host = host.rsplit(":", 1)[0].lower()
        if host.endswith(".bench.test"):
            host = pf._bench_host(host)
        self.requests.setdefault(host, []).append((protocol, headers))
        named = {k.lower(): v for k, v in headers}
        site = [("content-type", "text/html; charset=UTF-8"), ("server", "nginx")]
        page = pf.site_page(host)
        if host == "h2geo.farm.test":
            if protocol == "h2" and cc == "CU":
                ray = "8f3a1c2b4d5e6f70"
                return 403, [("content-type", "text/html; charset=UTF-8"),
                             ("server", "cloudflare"), ("cf-ray", f"{ray}-HAV")], \
                    pf.cloudflare_1009(host, cc, ray), None
            return 200, [*site[:1], ("server", "cloudflare")], page, None
        if host == "browseronly.farm.test":
            if cc == "CU" and "sec-fetch-mode" in named:
                request_id = "Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0Pp9Oo8Nn7Mm6Ll5Kk4Jj3Ii=="
                return 403, [("content-type", "text/html"), ("server", "CloudFront"),
                             ("x-cache", "Error from cloudfront"),
                             ("x-amz-cf-id", request_id)], pf.cloudfront_block(request_id), None
            return 200, site, page, None
        if host == "cookie.farm.test":
            if path == "/":
                return 302, [("location", "/home"),
                             ("set-cookie", f"{COOKIE}; Path=/; Secure; HttpOnly"),
                             ("set-cookie", "tracking=1; Domain=other.test; Path=/")], b"", None
            if COOKIE in named.get("cookie", ""):
                return 200, site, page, None
            return 403, site, pf.NGINX_403, None
        if host == "gzip.farm.test":
            return self.encoded(path, named, site, page)
        if protocol == "h2" and host in ("rst.farm.test", "goaway.farm.test", "trunc.farm.test"):
            return 200, site, page, host.split(".")[0]
        return 200, site, page, None

    def encoded(self, path: str, named: dict[str, str], site: list, page: bytes):
        accepted = named.get("accept-encoding", "")
        if path == "/bomb":
            bomb = gzip.compress(b"\0" * (10 * 1024 * 1024), 9)
            return 200, [*site, ("content-encoding", "gzip")], bomb, None
        if path == "/bad":
            return 200, [*site, ("content-encoding", "gzip")], b"\x1f\x8b\x08garbage" * 40, None
        if path == "/big":
            return 200, site, page * 100, None
        if path == "/br" and "br" in accepted:
            import brotli
            return 200, [*site, ("content-encoding", "br")], brotli.compress(page), None
        if path == "/deflate" and "deflate" in accepted:
            return 200, [*site, ("content-encoding", "deflate")], zlib.compress(page), None
        if "gzip" in accepted:
            return 200, [*site, ("content-encoding", "gzip")], gzip.compress(page), None
        return 200, site, page, None

    # -- HTTP/1.1

    async def serve_h1(self, reader, writer, cc) -> None:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        lines = head.decode("latin-1").split("\r\n")
        path = lines[0].split(" ")[1]
        headers = [(k.strip(), v.strip()) for k, _, v in
                   (line.partition(":") for line in lines[1:] if line)]
        host = next((v for k, v in headers if k.lower() == "host"), "")
        status, extra, body, _broken = self.answer(host, path, headers, "http/1.1", cc)
        out = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}", "Connection: close",
               *(f"{k}: {v}" for k, v in extra)]
        writer.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()

    # -- HTTP/2

    async def serve_h2(self, reader, writer, cc) -> None:
        import h2.config
        import h2.connection
        import h2.errors
        import h2.events

        conn = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=False, header_encoding="latin-1"))
        conn.initiate_connection()
        writer.write(conn.data_to_send())
        pending: dict[int, bytes] = {}
        while True:
            data = await reader.read(65536)
            if not data:
                return
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.RequestReceived):
                    named = dict(event.headers)
                    plain = [(k, v) for k, v in event.headers if not k.startswith(":")]
                    status, extra, body, broken = self.answer(
                        named.get(":authority", ""), named.get(":path", "/"), plain, "h2", cc)
                    if broken == "goaway":
                        conn.close_connection(h2.errors.ErrorCodes.PROTOCOL_ERROR)
                        writer.write(conn.data_to_send())
                        await writer.drain()
                        return
                    conn.send_headers(event.stream_id, [(":status", str(status)), *extra,
                                                        ("content-length", str(len(body)))],
                                      end_stream=not body)
                    if broken == "rst":
                        conn.reset_stream(event.stream_id, h2.errors.ErrorCodes.REFUSED_STREAM)
                    elif broken == "trunc":
                        conn.send_data(event.stream_id, body[:len(body) // 2])
                        writer.write(conn.data_to_send())
                        await writer.drain()
                        return
                    elif body:
                        pending[event.stream_id] = body
                elif isinstance(event, h2.events.StreamReset):
                    pending.pop(event.stream_id, None)
            for stream_id in list(pending):
                # Flow control: send what the client's window allows; the rest after its
                # WINDOW_UPDATE (the next turn of the loop).
                body = pending[stream_id]
                room = min(conn.local_flow_control_window(stream_id), len(body))
                while room > 0:
                    size = min(room, conn.max_outbound_frame_size)
                    conn.send_data(stream_id, body[:size], end_stream=size == len(body))
                    body, room = body[size:], room - size
                if body:
                    pending[stream_id] = body
                else:
                    del pending[stream_id]
            writer.write(conn.data_to_send())
            await writer.drain()
