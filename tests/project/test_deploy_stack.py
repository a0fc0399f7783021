"""The production stack of docs/deploy.md, started as documented (issue 13, points 2 and 4).

PostgreSQL (a database of its own on the server of DATABASE_URL), `sentinelle migrate`, two
gunicorn instances with deploy/gunicorn.conf.py, the task worker, and Debian's nginx with
deploy/sentinelle.conf and a self-signed certificate, all with the environment of
deploy/sentinelle.env.example: no demo flag, two-factor sign-in required, HTTPS-only cookies,
HSTS, the proxy's X-Forwarded-Proto trusted and plain HTTP redirected. Only what cannot be the
same on a test machine changes (ports, host name, paths, mail), each change named below.

A focal point enrols her second factor and signs in through one gunicorn, continues on the
other (sessions, lock-out counters and the second factor's state are in the database), files a
report, and imports a file through the balanced front, which the worker runs.

It needs nginx, openssl, gunicorn, Chromium and a PostgreSQL DATABASE_URL. Without a
PostgreSQL DATABASE_URL it skips (the SQLite pass of CI); with one, a missing component is a skip
with the reason outside CI and a failure in CI (.ci/run installs them and sets CI=true).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import have_chromium
from tests.paths import ROOT

pytestmark = pytest.mark.browser

DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ARTIFACTS = ROOT / "artifacts" / "browser"
PASSWORD = "deploy-stack-Passw0rd"
TIMEOUT_S = 30


def _postgres_url() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://")) else None


def _missing() -> str | None:
    """What the stack lacks on this machine, or None."""
    for name in ("nginx", "openssl"):
        if not (shutil.which(name) or Path(f"/usr/sbin/{name}").exists()):
            return f"{name} not found: install Debian's {name} package"
    if not (BIN / "gunicorn").exists():
        return f"gunicorn not found in {BIN}: pip install -e '.[test]'"
    if not have_chromium():
        return f"Chromium not found at {CHROMIUM}: install Debian's chromium package"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed: pip install -e '.[test]'"
    return None


def _nginx() -> str:
    return shutil.which("nginx") or "/usr/sbin/nginx"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def documented_environment() -> dict[str, str]:
    """The variables deploy/sentinelle.env.example sets (comments and blank lines left out)."""
    values = {}
    for line in (DEPLOY / "sentinelle.env.example").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def unit_command(unit: str) -> list[str]:
    """The ExecStart= of a deploy/systemd unit, run from this venv and this checkout."""
    text = (DEPLOY / "systemd" / unit).read_text()
    line = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    argv = line.removeprefix("ExecStart=").split()
    argv = [arg.replace("/etc/sentinelle/gunicorn.conf.py", str(DEPLOY / "gunicorn.conf.py"))
            for arg in argv]
    assert argv[0].startswith("/opt/sentinelle/bin/"), line
    return [str(BIN / Path(argv[0]).name), *argv[1:]]


def replace(text: str, old: str, new: str) -> str:
    """Replace old, which must be in the documented file: if the file changes, this fails
    rather than quietly testing something else."""
    assert old in text, f"{old!r} is no longer in the documented nginx configuration"
    return text.replace(old, new)


@dataclass
class Stack:
    tmp: Path
    env: dict[str, str]
    cert: Path
    backends: dict[str, int]          # instance name -> gunicorn port
    fronts: dict[str, int]            # "balanced", "a", "b" -> nginx HTTPS port
    http_port: int
    processes: list[subprocess.Popen] = field(default_factory=list)

    def front(self, name: str) -> str:
        return f"https://127.0.0.1:{self.fronts[name]}"

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")

    def start(self, name: str, argv: list[str], **env: str) -> subprocess.Popen:
        out = (self.tmp / f"{name}.log").open("wb")
        process = subprocess.Popen(argv, env={**self.env, **env}, stdout=out,
                                   stderr=subprocess.STDOUT, cwd=self.tmp,
                                   start_new_session=True)
        self.processes.append(process)
        return process

    def run(self, *args: str, **env: str) -> str:
        done = subprocess.run([str(BIN / "sentinelle"), *args], env={**self.env, **env},
                              cwd=self.tmp, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"sentinelle {' '.join(args)}:\n{done.stdout}{done.stderr}"
        return done.stdout


def _wait(stack: Stack, url: str, what: str, context: ssl.SSLContext | None = None) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        for process in stack.processes:
            if process.poll() is not None:
                name = Path(process.args[0]).name
                logs = "\n".join(path.read_text(errors="replace")[-3000:]
                                 for path in stack.tmp.glob("*.log"))
                raise AssertionError(f"{name} exited with {process.returncode}:\n{logs}")
        try:
            with urllib.request.urlopen(url, timeout=2, context=context):  # noqa: S310
                return
        except urllib.error.HTTPError:
            return   # it answers
        except OSError as exc:
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} did not answer in {TIMEOUT_S} s: {exc}") from None
            time.sleep(0.2)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def fetch(url: str, context: ssl.SSLContext | None = None) -> tuple[int, dict, bytes]:
    """Status, headers (name -> every value) and body, redirects not followed."""
    opener = urllib.request.build_opener(_NoRedirect(), urllib.request.HTTPSHandler(
        context=context))
    try:
        with opener.open(url, timeout=10) as response:
            status, headers, body = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, headers, body = error.code, error.headers, error.read()
    values: dict[str, list[str]] = {}
    for name, value in headers.items():
        values.setdefault(name.lower(), []).append(value)
    return status, values, body


def _nginx_config(stack: Stack, prefix: Path, key: Path) -> str:
    """deploy/nginx/sentinelle.conf with test ports, host and paths, inside an http block, plus
    two fronts that each reach one gunicorn only (to continue a session on the other)."""
    site = (DEPLOY / "nginx" / "sentinelle.conf").read_text()
    a, b = stack.backends["a"], stack.backends["b"]
    site = replace(site, "    server 127.0.0.1:8000;\n",
                   f"    server 127.0.0.1:{a};\n    server 127.0.0.1:{b};\n")
    site = replace(site, "    listen 80;\n", f"    listen 127.0.0.1:{stack.http_port};\n")
    site = replace(site, "    listen [::]:80;\n", "")
    site = replace(site, "    listen 443 ssl http2;\n",
                   f"    listen 127.0.0.1:{stack.fronts['balanced']} ssl http2;\n")
    site = replace(site, "    listen [::]:443 ssl http2;\n", "")
    site = replace(site, "server_name sentinelle.example.org;", "server_name 127.0.0.1;")
    site = replace(site, "/etc/ssl/certs/sentinelle.example.org.pem", str(stack.cert))
    site = replace(site, "/etc/ssl/private/sentinelle.example.org.key", str(key))
    site = replace(site, "/var/log/nginx/", f"{prefix}/")
    balanced = stack.fronts["balanced"]
    tls_server = site[site.index(f"server {{\n    listen 127.0.0.1:{balanced} ssl"):].rstrip()
    assert tls_server.endswith("}"), "the TLS server block is expected last in the file"
    pinned = []
    for name, port in (("a", a), ("b", b)):
        block = replace(tls_server, f"listen 127.0.0.1:{stack.fronts['balanced']} ssl",
                        f"listen 127.0.0.1:{stack.fronts[name]} ssl")
        block = replace(block, "proxy_pass http://sentinelle;", f"proxy_pass http://{name}_only;")
        pinned.append(f"upstream {name}_only {{ server 127.0.0.1:{port}; }}\n{block}\n")
    temp = "\n".join(f"    {kind}_temp_path {prefix}/{kind}_temp;"
                     for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return (f"pid {prefix}/nginx.pid;\nerror_log {prefix}/error.log;\n"
            "worker_processes 1;\nevents { worker_connections 256; }\n"
            f"http {{\n    include /etc/nginx/mime.types;\n{temp}\n"
            f"    access_log {prefix}/access.log;\n{site}\n{''.join(pinned)}}}\n")


@pytest.fixture
def stack(tmp_path) -> Iterator[Stack]:
    url = _postgres_url()
    if url is None:
        pytest.skip("the deployment stack runs on PostgreSQL: set DATABASE_URL=postgres://… "
                    "(CI's PostgreSQL pass does)")
    reason = _missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    import dj_database_url
    import psycopg

    # A database of its own, created and migrated as docs/deploy.md says.
    database = f"sentinelle_deploy_{os.getpid()}"
    config = dj_database_url.parse(url)
    admin = psycopg.connect(dbname=config["NAME"], user=config["USER"],
                            password=config["PASSWORD"], host=config["HOST"] or None,
                            port=config["PORT"] or None, autocommit=True)
    admin.execute(f'DROP DATABASE IF EXISTS "{database}"')
    admin.execute(f'CREATE DATABASE "{database}"')
    stack_url = url[:url.rindex("/") + 1] + database + (
        url[url.index("?"):] if "?" in url else "")

    # nginx's workers drop root: their prefix must be reachable by them, not in pytest's 0700
    # tmp directory.
    prefix = Path(tempfile.mkdtemp(prefix="sentinelle-nginx-"))
    prefix.chmod(0o755)
    fronts = {name: _free_port() for name in ("balanced", "a", "b")}
    origins = ",".join(f"https://127.0.0.1:{port}" for port in fronts.values())
    documented = documented_environment()
    assert "SENTINELLE_DEMO" not in documented and "SENTINELLE_DEBUG" not in documented
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("SENTINELLE_", "DJANGO_", "PROMETHEUS_", "GUNICORN_"))}
    env.update(documented)
    env.update({
        # What differs on a test machine: where things are, the host name, the ports, mail (no
        # SMTP server here: the console backend writes to the service's log), one gunicorn
        # worker per instance (two cores), and INFO logs, which say which process did what.
        "SENTINELLE_DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": stack_url,
        "SENTINELLE_ALLOWED_HOSTS": "127.0.0.1",
        "SENTINELLE_CSRF_TRUSTED_ORIGINS": origins,
        "SENTINELLE_BASE_URL": f"https://127.0.0.1:{fronts['balanced']}",
        "SENTINELLE_EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
        "SENTINELLE_WEB_WORKERS": "1",
        "SENTINELLE_LOG_LEVEL": "INFO",
    })
    # The example names a password file that is not on a test machine.
    env.pop("SENTINELLE_EMAIL_PASSWORD_FILE", None)
    (tmp_path / "data").mkdir()
    stack = Stack(tmp=tmp_path, env=env, cert=prefix / "cert.pem",
                  backends={"a": _free_port(), "b": _free_port()}, fronts=fronts,
                  http_port=_free_port())
    try:
        stack.run("migrate", "--noinput", "-v", "0")
        stack.run("check", "--deploy", "--fail-level", "WARNING")
        stack.run("user", "create", "fp-deploy", "--role", "focal-point", "--state", "CU",
                  "--email", "fp-deploy@example.org", SENTINELLE_NEW_PASSWORD=PASSWORD)

        key = prefix / "key.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", str(key), "-out", str(stack.cert)],
                       check=True, capture_output=True, timeout=30)
        # As the systemd units start them; each instance with its own metrics directory, as
        # RuntimeDirectory= gives it.
        for name, port in stack.backends.items():
            stack.start(f"gunicorn-{name}", unit_command("sentinelle-web.service"),
                        SENTINELLE_BIND=f"127.0.0.1:{port}",
                        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / f"metrics-{name}"))
        stack.start("worker", unit_command("sentinelle-worker.service"))
        (prefix / "nginx.conf").write_text(_nginx_config(stack, prefix, key))
        stack.start("nginx", [_nginx(), "-p", str(prefix), "-c", str(prefix / "nginx.conf"),
                              "-g", "daemon off;"])
        for name, port in stack.backends.items():
            _wait(stack, f"http://127.0.0.1:{port}/healthz", f"gunicorn {name}")
        trusted = ssl.create_default_context(cafile=str(stack.cert))
        for name in fronts:
            _wait(stack, stack.front(name) + "/healthz", f"nginx ({name})", trusted)
        yield stack
    finally:
        for process in reversed(stack.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in stack.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        (tmp_path / "nginx-error.log").write_bytes(
            (prefix / "error.log").read_bytes() if (prefix / "error.log").exists() else b"")
        shutil.rmtree(prefix, ignore_errors=True)
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.close()


def totp_code(secret: str) -> str:
    """The code an authenticator app shows for the key the enrolment page gives."""
    from django_otp.oath import TOTP

    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    return f"{TOTP(key, step=30, digits=6).token():06d}"


STIX_BUNDLE = json.dumps({
    "type": "bundle", "id": "bundle--5e7e1a2b-0000-4000-8000-00000000d001",
    "objects": [{
        "type": "indicator", "spec_version": "2.1",
        "id": "indicator--5e7e1a2b-0000-4000-8000-00000000d002",
        "created": "2026-04-01T00:00:00.000Z", "modified": "2026-04-01T00:00:00.000Z",
        "name": "Botnet controller", "pattern_type": "stix",
        "pattern": "[ipv4-addr:value = '198.51.100.23']", "valid_from": "2026-04-01T00:00:00Z",
    }]}).encode()


def test_documented_stack_signs_in_with_a_second_factor_across_two_instances(stack):
    trusted = ssl.create_default_context(cafile=str(stack.cert))

    # nginx: plain HTTP only redirects to HTTPS; /metrics is refused from outside, while
    # gunicorn answers it on loopback; one HSTS header, Django's, on pages; static files served.
    status, headers, _body = fetch(f"http://127.0.0.1:{stack.http_port}/account/login/")
    assert status == 301 and headers["location"] == ["https://127.0.0.1/account/login/"]
    status, headers, _body = fetch(stack.front("balanced") + "/metrics", trusted)
    assert status == 404
    assert headers["strict-transport-security"] == [
        "max-age=31536000; includeSubDomains; preload"]
    status, _headers, body = fetch(f"http://127.0.0.1:{stack.backends['a']}/metrics")
    assert status == 200 and b"sentinelle_http_request_duration_seconds" in body
    status, headers, _body = fetch(stack.front("balanced") + "/account/login/", trusted)
    assert status == 200
    assert headers["strict-transport-security"] == [
        "max-age=31536000; includeSubDomains; preload"]
    status, headers, body = fetch(stack.front("balanced") + "/static/sentinelle/site.css",
                                  trusted)
    assert status == 200 and headers["content-type"][0].startswith("text/css") and body
    status, _headers, body = fetch(stack.front("balanced") + "/healthz", trusted)
    assert status == 200 and json.loads(body)["status"] == "ok"

    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            # One browser, one cookie jar: cookies do not depend on the port, so the session
            # made through front "a" is sent to front "b" too.
            context = chromium.new_context(ignore_https_errors=True, locale="en-GB")
            context.set_default_timeout(15_000)
            page = context.new_page()

            # 1. Through instance a: password, then the first second-factor enrolment.
            page.goto(stack.front("a") + "/account/login/")
            page.fill("#id_username", "fp-deploy")
            page.fill("#id_password", PASSWORD)
            page.locator("main form").get_by_role("button", name="Sign in").click()
            page.wait_for_url(re.compile(r"/account/two-factor/"))
            assert page.locator("h1").inner_text() == "Two-factor sign-in"
            secret = page.locator("#totp-secret").inner_text().strip()
            page.fill("#id_code", totp_code(secret))
            page.get_by_role("button", name="Verify").click()
            page.wait_for_url(stack.front("a") + "/")
            assert "Reports from Cuba" in page.locator("h1").inner_text()
            cookies = {c["name"]: c for c in context.cookies(stack.front("a"))}
            assert cookies["sessionid"]["secure"] and cookies["sessionid"]["httpOnly"]

            # 2. Through instance b, which never saw her: still signed in, second factor
            # included; she files a report there.
            page.goto(stack.front("b") + "/")
            assert "Reports from Cuba" in page.locator("h1").inner_text()
            page.get_by_role("link", name="Report an incident").first.click()
            page.wait_for_url(re.compile(r"/incidents/new/$"))
            page.fill("#id_title", "Defacement of the ministry site")
            page.select_option("#id_category", "trust-security")
            page.select_option("#id_rsit", "availability:ddos")
            page.select_option("#id_tlp", "amber")
            page.fill("#id_started_at", "2026-03-01T08:00")
            page.fill("#id_description", "Filed through nginx, over HTTPS, on instance b.")
            page.get_by_role("button", name="Submit to the Secretariat").click()
            page.wait_for_url(re.compile(r"/incidents/\d+/$"))
            assert page.locator("#status").inner_text().strip() == "Submitted"
            assert "The report was submitted to the Secretariat: " \
                in page.locator(".messages").inner_text()

            # 3. Through the balanced front: an import, which the worker runs.
            page.goto(stack.front("balanced") + "/exchange/")
            page.set_input_files("#id_file", files=[{
                "name": "indicators.json", "mimeType": "application/json",
                "buffer": STIX_BUNDLE}])
            page.select_option("#id_tlp", "green")
            page.get_by_role("button", name="Import", exact=True).click()
            page.wait_for_url(re.compile(r"/jobs/\d+/$"))
            status = page.locator("#job-status .status")
            expect(status).to_have_attribute("data-status", "succeeded", timeout=30_000)
            assert status.inner_text() == "Succeeded"
            assert re.search(r"Indicators created\s+1\b",
                             page.locator("#job-status").inner_text())
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "deploy-stack.png"), full_page=True)
        finally:
            chromium.close()

    # Which process did what: the second factor on a, the report on b, the import in the
    # worker (it logs each task it runs).
    log_a, log_b = stack.log("gunicorn-a"), stack.log("gunicorn-b")
    assert '"POST /account/two-factor/' in log_a
    assert '"POST /account/two-factor/' not in log_b
    assert '"POST /incidents/new/' in log_b
    assert '"POST /incidents/new/' not in log_a
    assert "run_job" in stack.log("worker")



@pytest.mark.django_db
def test_web_processes_keep_no_state_of_their_own(settings):
    """What lets any gunicorn instance answer any request, on every database (the stack test
    shows it end to end on PostgreSQL): sessions, which carry the second factor's verification,
    are rows, and so are the sign-in failures that lock an account."""
    from sentinelle.core import signin
    from sentinelle.core.models import SignInFailure

    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.db"
    settings.LOCKOUT_ATTEMPTS = 2
    for _ in range(2):
        signin.record_failure("fp-deploy", "192.0.2.1", "password")
    assert SignInFailure.objects.filter(username="fp-deploy").count() == 2
    assert signin.is_locked("fp-deploy")
