"""Documents are rendered without fetching anything: markup that slipped through escaping
cannot make the server read a local file or call a URL."""

import http.server
import threading

import pytest

from sentinelle.core.pdf import html_to_pdf


@pytest.fixture
def counting_server():
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", hits
    server.shutdown()


def test_a_document_fetches_no_url_and_no_file(counting_server, tmp_path):
    url, hits = counting_server
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-LINE")
    pdf = html_to_pdf(f'<p>report</p><img src="{url}/x.png">'
                      f'<div style="background:url({url}/bg.png)">y</div>'
                      f'<object data="file://{secret}"></object>'
                      f'<iframe src="file://{secret}"></iframe>')
    assert pdf.startswith(b"%PDF-")
    assert hits == []
    assert b"TOP-SECRET-LINE" not in pdf


def test_data_urls_still_render():
    one_pixel = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQV"
                 "R42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
    assert html_to_pdf(f'<img src="{one_pixel}">').startswith(b"%PDF-")
