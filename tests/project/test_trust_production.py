"""Issue 11, finding 13: production defaults.

No installation shares a secret key with another; outside the demo the cookies are secure and
HSTS is on; every HTML page carries a Content-Security-Policy that allows no inline script; and
`sentinelle check --deploy` is clean for the production settings the README documents.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import stat
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from html.parser import HTMLParser
from pathlib import Path

import pytest

from sentinelle.core.instance_keys import InstanceKeyError, load_or_create_secret
from tests.browser import browser_fixtures
from tests.conftest import file_report
from tests.paths import ROOT

# The browser test at the end drives Chromium; its fixtures are shared with
# tests/browser/test_browser_*.
_reference_data_stays = browser_fixtures._reference_data_stays
browser = browser_fixtures.browser
new_page = browser_fixtures.new_page

PACKAGE = ROOT / "src" / "sentinelle"
OLD_DEMO_KEY = "insecure-demo-key-change-me-in-production"


# --- the key helper ------------------------------------------------------------------------

def test_key_is_created_private_and_reused(tmp_path):
    path = tmp_path / "data" / "secret_key"
    first = load_or_create_secret(path, 32)
    assert len(first) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_secret(path, 32) == first
    assert load_or_create_secret(tmp_path / "other" / "secret_key", 32) != first
    # No temporary file is left beside the key.
    assert sorted(p.name for p in path.parent.iterdir()) == ["secret_key"]


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620])
def test_key_file_open_to_others_is_refused(tmp_path, mode):
    path = tmp_path / "secret_key"
    load_or_create_secret(path, 32)
    path.chmod(mode)
    with pytest.raises(InstanceKeyError, match=r"secret_key.*group or others.*chmod 600"):
        load_or_create_secret(path, 32)


def test_key_file_of_the_wrong_length_is_refused_not_replaced(tmp_path):
    path = tmp_path / "secret_key"
    path.write_bytes(b"short")
    path.chmod(0o600)
    with pytest.raises(InstanceKeyError, match="holds 5 bytes, expected 32"):
        load_or_create_secret(path, 32)
    assert path.read_bytes() == b"short"


def _race(path: str) -> bytes:
    return load_or_create_secret(Path(path), 48)


def test_processes_starting_at_once_agree_on_one_key(tmp_path):
    path = str(tmp_path / "secret_key")
    with ProcessPoolExecutor(max_workers=8) as pool:
        keys = list(pool.map(_race, [path] * 32))
    assert len(set(keys)) == 1
    assert (tmp_path / "secret_key").read_bytes() == keys[0]


# --- settings ------------------------------------------------------------------------------

def _settings_with(monkeypatch, **env: str):
    """The settings module as it reads under exactly these SENTINELLE_* variables."""
    import sentinelle.settings as settings_module

    for name in list(os.environ):
        if name.startswith("SENTINELLE_") or name == "DATABASE_URL":
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    try:
        module = importlib.reload(settings_module)
        return {name: getattr(module, name) for name in dir(module) if name.isupper()}
    finally:
        monkeypatch.undo()
        importlib.reload(settings_module)


def test_without_a_configured_key_each_installation_generates_its_own(monkeypatch, tmp_path):
    one = _settings_with(monkeypatch, SENTINELLE_DATA_DIR=str(tmp_path / "one"))
    assert one["SECRET_KEY"] != OLD_DEMO_KEY
    assert len(one["SECRET_KEY"]) >= 50
    key_file = tmp_path / "one" / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    again = _settings_with(monkeypatch, SENTINELLE_DATA_DIR=str(tmp_path / "one"))
    assert again["SECRET_KEY"] == one["SECRET_KEY"]
    other = _settings_with(monkeypatch, SENTINELLE_DATA_DIR=str(tmp_path / "two"))
    assert other["SECRET_KEY"] != one["SECRET_KEY"]


def test_a_configured_key_is_used_and_nothing_is_written(monkeypatch, tmp_path):
    values = _settings_with(monkeypatch, SENTINELLE_DATA_DIR=str(tmp_path),
                            SENTINELLE_SECRET_KEY="k" * 20 + "configured" * 5)
    assert values["SECRET_KEY"] == "k" * 20 + "configured" * 5
    assert not (tmp_path / "secret_key").exists()


def test_outside_the_demo_cookies_are_secure_and_hsts_is_on(monkeypatch, tmp_path):
    values = _settings_with(monkeypatch, SENTINELLE_DATA_DIR=str(tmp_path))
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_SECURE"] is True
    assert values["SECURE_HSTS_SECONDS"] >= 365 * 24 * 3600
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    # Trusting a proxy header is only safe behind a proxy that sets it: never by default.
    assert values["SECURE_PROXY_SSL_HEADER"] is None


def test_the_demo_runs_over_plain_http(monkeypatch, tmp_path):
    values = _settings_with(monkeypatch, SENTINELLE_DATA_DIR=str(tmp_path),
                            SENTINELLE_DEMO="true")
    assert values["SESSION_COOKIE_SECURE"] is False
    assert values["CSRF_COOKIE_SECURE"] is False
    assert values["SECURE_HSTS_SECONDS"] == 0


def test_proxy_ssl_header_only_when_configured(monkeypatch, tmp_path):
    values = _settings_with(monkeypatch, SENTINELLE_DATA_DIR=str(tmp_path),
                            SENTINELLE_PROXY_SSL_HEADER="X-Forwarded-Proto")
    assert values["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")


# --- Content-Security-Policy ---------------------------------------------------------------

def _directives(header: str) -> dict[str, list[str]]:
    parsed = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            parsed[words[0]] = words[1:]
    return parsed


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/account/login/", "/gateway/", "/api/docs/"])
def test_html_pages_carry_a_csp_without_inline_script(client, path):
    response = client.get(path, follow=True)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    header = response.get("Content-Security-Policy")
    assert header, f"{path} has no Content-Security-Policy"
    directives = _directives(header)
    script_src = directives.get("script-src", directives.get("default-src"))
    assert script_src == ["'self'"]
    assert "'unsafe-inline'" not in header
    assert "'unsafe-eval'" not in header
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]


class _InlineScripts(HTMLParser):
    """Collects what a CSP without 'unsafe-inline' would block: script bodies, on* handlers."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        for name, _value in attrs:
            if name.lower().startswith("on"):
                self.problems.append(f"<{tag} {name}=…> at line {self.getpos()[0]}")
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.problems.append(f"inline <script> body at line {self.getpos()[0]}")


@pytest.mark.django_db
def test_served_pages_have_no_inline_script(client, alice):
    client.force_login(alice)
    for path in ["/", "/incidents/new/", "/api/docs/"]:
        response = client.get(path, follow=True)
        parser = _InlineScripts()
        parser.feed(response.content.decode())
        assert parser.problems == [], path


def test_no_template_has_an_inline_script_or_handler():
    templates = [p for p in PACKAGE.rglob("*.html") if "templates" in p.parts]
    assert len(templates) > 40
    pattern_script = re.compile(r"<script\b[^>]*>(.*?)</script>", re.S | re.I)
    pattern_handler = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.S | re.I)
    found = []
    for template in templates:
        text = template.read_text(encoding="utf-8")
        for body in pattern_script.findall(text):
            if body.strip():
                found.append(f"{template.relative_to(PACKAGE)}: inline <script> body")
        if pattern_handler.search(text):
            found.append(f"{template.relative_to(PACKAGE)}: on* handler attribute")
    assert found == []


@pytest.mark.django_db
def test_htmx_does_not_inject_its_inline_indicator_style(client):
    """htmx adds a <style> element for indicators unless told not to; the CSP would block it."""
    html = client.get("/").content.decode()
    match = re.search(r'<meta name="htmx-config" content=(["\'])(.*?)\1', html)
    assert match, "no htmx-config meta tag"
    config = json.loads(match.group(2).replace("&quot;", '"'))
    assert config["includeIndicatorStyles"] is False


@pytest.mark.django_db
def test_api_docs_script_is_served_from_the_same_origin(client):
    page = client.get("/api/docs/").content.decode()
    sources = re.findall(r'<script src="([^"]+)"', page)
    assert any("script" in src for src in sources), sources
    script = next(src for src in sources if "?script" in src or "&script" in src)
    response = client.get(script.replace("&amp;", "&"))
    assert response.status_code == 200
    assert b"SwaggerUIBundle" in response.content


# --- check --deploy ------------------------------------------------------------------------

def _documented_production_env() -> dict[str, str]:
    """The variables in the README's production block (Configuration section)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "the README's Configuration section has no production block"
    env = {}
    for line in block.group(1).splitlines():
        match = re.match(r"(?:export\s+)?([A-Z_]+)=(\S*)", line.strip())
        if match:
            env[match.group(1)] = match.group(2).strip("'\"")
    assert env, "the production block sets no variable"
    return env


def _check_deploy(tmp_path, extra: dict[str, str]) -> subprocess.CompletedProcess:
    # A clean environment: nothing of this machine's configuration (or of pytest's) leaks in.
    env = {name: value for name, value in os.environ.items()
           if name in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PYTHONPATH")}
    env.update(extra)
    # The secret key is generated in a data directory of the test's own.
    env["SENTINELLE_DATA_DIR"] = str(tmp_path)
    env["DJANGO_SETTINGS_MODULE"] = "sentinelle.settings"
    return subprocess.run(
        [sys.executable, "-m", "sentinelle.cli", "check", "--deploy", "--fail-level", "WARNING"],
        env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)


def test_check_deploy_is_clean_for_the_documented_production_settings(tmp_path):
    result = _check_deploy(tmp_path, _documented_production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_flags_the_demo(tmp_path):
    """The same check does fail, so the clean result above means something."""
    result = _check_deploy(tmp_path, {"SENTINELLE_DEMO": "true"})
    assert result.returncode != 0
    assert "security.W012" in result.stderr + result.stdout


# --- in a real browser, under the policy ---------------------------------------------------

def _watch_csp(page) -> list[str]:
    """Chromium reports every refusal of the policy on the console; collect them."""
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text)
            if "Content Security Policy" in message.text else None)
    return refused


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_pages_work_under_the_csp_in_chromium(new_page, live_server, alice):
    report = file_report(alice, title="Withdrawn under the CSP")

    page = new_page()
    refused = _watch_csp(page)
    page.goto("/")
    # The language switcher submits on change through site.js, not an inline handler.
    page.select_option("#language", "fr")
    page.wait_for_function("document.documentElement.lang === 'fr'")
    page.select_option("#language", "en")
    page.wait_for_function("document.documentElement.lang === 'en'")

    # The API docs: Swagger UI starts from its split script and lists the operations.
    page.goto("/api/docs/")
    page.locator(".swagger-ui .info .title").filter(has_text="Sentinelle API").wait_for()
    assert page.locator(".opblock").count() > 10
    assert page.evaluate("getComputedStyle(document.body).margin") == "0px"

    # Withdrawing asks first (site.js); "Cancel" sends nothing, "OK" withdraws.
    browser_fixtures.log_in(page, live_server, "alice")
    page.goto(f"/incidents/{report.pk}/")
    withdraw = page.get_by_role("button", name="Withdraw this report")
    page.once("dialog", lambda dialog: dialog.dismiss())
    withdraw.click()
    page.wait_for_timeout(300)
    report.refresh_from_db()
    assert report.status != "withdrawn"
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        withdraw.click()
    report.refresh_from_db()
    assert report.status == "withdrawn"

    assert refused == []

