"""Everything a newcomer types works as written (issue 12, points 15, 16 and 17).

Part 1 — the `sentinelle` command explains itself: the bare command lists the platform's own
commands first, every option of every platform command says what it does, plurals are right.

Part 2 — every command and request in a fenced block of README.md runs, as written, against the
demo data (a seeded data directory of its own and a server on a free port); a block that is
neither run here nor listed in NOT_RUNNABLE with the reason fails the test.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command, get_commands, load_command_class

from sentinelle import cli
from tests.paths import ROOT

BIN = Path(sys.executable).parent    # the venv's bin, first on PATH after `. .venv/bin/activate`

# --- Part 1: the command line explains itself --------------------------------------------------

PLATFORM = ["report", "import", "export", "federate", "enrich", "probe", "routing", "evidence",
            "user", "token", "audit", "seed-demo", "seed-actionplan", "seed-gateway",
            "seed-observatory"]


def _main(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        cli.main(["sentinelle", *argv])
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv", [[], ["help"], ["--help"]])
def test_bare_command_lists_the_platforms_commands_first(capsys, argv):
    code, out, _err = _main(capsys, *argv)
    assert code == 0
    lines = out.splitlines()
    for name in PLATFORM:
        described = [line for line in lines if line.split()[:1] == [name]]
        assert described, f"{name} is not listed in:\n{out}"
        assert len(described[0].split()) > 2, f"{name} has no one-line description"
    assert "Django's commands: sentinelle help --django" in out
    # Django's internals are behind --django, not in the newcomer's first screen.
    assert "squashmigrations" not in out and "[contenttypes]" not in out
    assert out.index("report") < out.index("migrate")


def test_help_django_lists_djangos_commands(capsys):
    code, out, _err = _main(capsys, "help", "--django")
    assert code == 0
    assert "squashmigrations" in out and "[django]" in out


def test_every_platform_management_command_is_in_the_listing(capsys):
    _code, out, _err = _main(capsys)
    listed = {line.split()[0] for line in out.splitlines() if line.startswith("  ")}
    ours = {name.replace("_", "-") for name, app in get_commands().items()
            if app.startswith("sentinelle.")}
    ours.discard("submit-bundle")  # typed as `probe submit` / `routing submit`
    assert ours <= listed, f"not in the listing: {sorted(ours - listed)}"


def test_help_for_one_command_accepts_the_hyphenated_name(capsys):
    code, out, _err = _main(capsys, "help", "seed-demo")
    assert code == 0 and "--reports" in out


@pytest.mark.parametrize("group, subcommands", [
    ("probe", ["run", "helper", "campaign", "submit"]),
    ("routing", ["scan", "dump", "vrp-to-watch", "submit"]),
    ("evidence", ["keygen", "verify"]),
])
def test_group_help_lists_every_subcommand(capsys, group, subcommands):
    code, out, _err = _main(capsys, group, "--help")
    assert code == 0
    for name in subcommands:
        assert any(line.split()[:1] == [name] for line in out.splitlines()), (name, out)


def _parsers(parser: argparse.ArgumentParser, path: str):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _parsers(child, f"{path} {name}")


def _platform_parsers():
    for name, app in sorted(get_commands().items()):
        if app.startswith("sentinelle."):
            command = load_command_class(app, name)
            yield from _parsers(command.create_parser("sentinelle", name),
                                f"sentinelle {name.replace('_', '-')}")
    for group, module in cli.PLAIN_GROUPS.items():
        yield from _parsers(importlib.import_module(module).build_parser(),
                            f"sentinelle {group}")


def test_every_option_of_every_platform_command_has_a_help_text():
    missing = []
    for path, parser in _platform_parsers():
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            if not action.help or action.help == argparse.SUPPRESS:
                missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    assert not missing, "options without a help text:\n" + "\n".join(missing)


def test_routing_dump_help_names_its_options(capsys):
    code, out, _err = _main(capsys, "routing", "dump", "--help")
    assert code == 0 and "--jobs" in out and "--bgpdump-only" in out


def _bundle(tmp_path: Path, files: int) -> tuple[Path, Path]:
    from sentinelle.evidence import bundle, keys

    private, public = keys.generate(tmp_path / "k.key")
    path = tmp_path / f"b{files}.zip"
    key = keys.load_private(private)
    with bundle.BundleWriter(path, kind="access-probe", signing_key=key) as out:
        for i in range(files):
            out.add_bytes(f"f{i}.txt", b"x")
    return path, public


@pytest.mark.parametrize("files, words", [(1, "1 file and"), (2, "2 files and")])
def test_evidence_verify_counts_files_in_the_right_number(tmp_path, capsys, files, words):
    path, public = _bundle(tmp_path, files)
    code, out, _err = _main(capsys, "evidence", "verify", str(path), "--key", str(public))
    assert code == 0, out
    assert f"OK: {words} the signature hold" in out


@pytest.mark.django_db
def test_audit_verify_says_1_entry_not_1_entries():
    from sentinelle.core import audit
    from sentinelle.core.models import AuditEntry

    assert not AuditEntry.objects.exists()      # a fresh test database: the chain is empty
    audit.record("test.one", None, actor="test", object_type="test")
    out = io.StringIO()
    call_command("audit", "verify", stdout=out)
    assert out.getvalue().startswith("audit chain intact: 1 entry\n")


def test_plain_tools_import_no_django_after_the_help_changes():
    for module in cli.PLAIN_GROUPS.values():
        code = (f"import sys, importlib; importlib.import_module({module!r}).build_parser(); "
                "print('django' in sys.modules)")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=60, env={"PATH": "/usr/bin:/bin"})
        assert done.stdout.strip() == "False", (module, done.stderr)



# --- Point 16: `make demo PORT=…`, and where `sentinelle` comes from ---------------------------

def _make_demo(*args: str) -> str:
    done = subprocess.run(["make", "-n", "demo", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_make_demo_serves_on_port_8000_by_default_and_port_chooses_another():
    assert "runserver 127.0.0.1:8000" in _make_demo()
    chosen = _make_demo("PORT=8080")
    assert "runserver 127.0.0.1:8080" in chosen and "127.0.0.1:8000" not in chosen


def test_make_demo_says_how_to_get_sentinelle_on_the_path():
    assert ". .venv/bin/activate" in _make_demo()


def test_readme_says_how_to_get_sentinelle_on_the_path_where_it_first_uses_it():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first = readme.index("sentinelle ")          # the first command typed
    before = readme[:first + 400]
    assert ". .venv/bin/activate" in before, readme[first - 200:first + 400]
    assert "make demo PORT=8080" in readme


# --- Part 2: every fenced block of README.md runs as written ----------------------------------

README = ROOT / "README.md"
FIXTURES = ROOT / "tests" / "fixtures"
EXAMPLE_TOKEN = "readme-example-helper-token"     # stands for the README's `…`


@dataclass
class Block:
    line: int
    lang: str
    text: str

    @property
    def first(self) -> str:
        return next(line.strip() for line in self.text.splitlines() if line.strip())

    def commands(self) -> list[str]:
        """The commands, continuation lines joined, comment lines and trailing comments gone."""
        joined = re.sub(r"\\\n\s*", "", self.text)
        commands = []
        for line in joined.splitlines():
            line = re.sub(r"\s{2,}#\s.*$", "", line).strip()
            if line and not line.startswith("#"):
                commands.append(line)
        return commands


def readme_blocks() -> list[Block]:
    blocks, current = [], None
    for number, line in enumerate(README.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("```"):
            if current is None:
                current = Block(number, line[3:].strip(), "")
            else:
                blocks.append(current)
                current = None
        elif current is not None:
            current.text += line + "\n"
    return blocks


def _optional_included(command: str) -> str:
    """`[--opt value]` as typed by someone who wants the option: without the brackets."""
    return re.sub(r"(?<!\w)\[(--[^\]]*)\]", r"\1", command)


def _alternatives(command: str) -> tuple[str, list[str]]:
    """The first `a|b|c` word of a command and its alternatives."""
    for word in command.split():
        if "|" in word and not word.startswith(("'", '"')):
            word = word.strip("[]")
            return word, word.split("|")
    raise AssertionError(f"no a|b|c in {command!r}")


@dataclass
class Demo:
    root: Path
    env: dict
    url: str
    token: str

    def workdir(self, name: str) -> Path:
        path = self.root / "work" / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def sh(self, script: str, cwd: Path, *, check: bool = True,
           extra: dict | None = None) -> subprocess.CompletedProcess:
        # The README's server is `make demo`'s, 127.0.0.1:8000; this one listens elsewhere.
        script = script.replace("http://127.0.0.1:8000", self.url)
        done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=cwd,
                              env={**self.env, "TOKEN": self.token, **(extra or {})},
                              capture_output=True, text=True, timeout=300)
        if check and done.returncode != 0:
            pytest.fail(f"README command failed (exit {done.returncode}):\n{script}\n"
                        f"--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}")
        return done

    def get_json(self, path: str) -> dict:
        request = urllib.request.Request(self.url + path,
                                         headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - loopback
            return json.loads(answer.read())


def _free_port() -> int:
    # Free on every address: the README's probe helper listens on 0.0.0.0, where a port that
    # is free on 127.0.0.1 alone may still be taken (it was, once, in a full run).
    with socket.socket() as sock:
        sock.bind(("", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, process: subprocess.Popen, log: Path, seconds: float = 60,
              context: Any = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{url}: the server stopped:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5, context=context):  # noqa: S310
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"{url} did not answer within {seconds} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo as `make demo` makes it (migrate, seed, server and task worker), once."""
    if shutil.which("curl") is None:
        pytest.skip("the README's requests are curl commands, and curl is not installed")
    root = tmp_path_factory.mktemp("readme")
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(root), "LANG": "C.UTF-8",
           "SENTINELLE_DATA_DIR": str(root / "var"), "SENTINELLE_DEMO": "true",
           "SENTINELLE_REQUIRE_2FA": "false"}
    for command in (["migrate", "--noinput", "-v", "0"], ["seed-demo"]):
        done = subprocess.run([str(BIN / "sentinelle"), *command], cwd=root, env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env["SENTINELLE_BASE_URL"] = url
    log = root / "server.log"
    with open(log, "w") as out:
        server = subprocess.Popen([str(BIN / "sentinelle"), "runserver", f"127.0.0.1:{port}",
                                   "--noreload"], cwd=root, env=env, stdout=out,
                                  stderr=subprocess.STDOUT)
        worker = subprocess.Popen([str(BIN / "sentinelle"), "db_worker", "--interval", "1"],
                                  cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_for(url + "/account/login/", server, log)
        token = subprocess.run([str(BIN / "sentinelle"), "token", "create", "--user", "fp-cu"],
                               cwd=root, env=env, capture_output=True, text=True,
                               timeout=120, check=True).stdout.strip()
        yield Demo(root, env, url, token)
    finally:
        for process in (server, worker):
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


def _last_json(text: str):
    """The last JSON document printed (e-mails the console backend prints may precede it)."""
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith(("{", "[")):
            return json.loads(line)
    raise AssertionError(f"no JSON in {text[-2000:]!r}")


def run_rest_api(block: Block, demo: Demo) -> None:
    done = demo.sh(block.text, demo.workdir("api"), extra={"TOKEN": ""})  # the block makes it
    created = json.loads(done.stdout)
    assert created.get("version") == 1 and isinstance(created.get("id"), int), created
    report = demo.get_json(f"/api/v1/incidents/{created['id']}/")
    assert report["title"] == "DDoS against the national portal"


def run_audit_checkpoint(block: Block, demo: Demo) -> None:
    where = demo.workdir("audit")
    done = demo.sh(block.text, where)
    assert "audit chain intact" in done.stdout and "holds: entry #" in done.stdout, done.stdout
    assert (where / "instance.pub").read_text().startswith("-----BEGIN PUBLIC KEY-----")


def run_files_check(block: Block, demo: Demo) -> None:
    where = demo.workdir("files")
    check, repair = block.commands()
    for command in (check, repair):   # the demo's files and rows agree: nothing to report
        done = demo.sh(command, where)
        assert "Rows checked: " in done.stdout and "file, no row: 0" in done.stdout, done.stdout


def run_evidence(block: Block, demo: Demo) -> None:
    from sentinelle.evidence import bundle, keys

    where = demo.workdir("evidence")
    keygen, verify = block.commands()
    demo.sh(keygen, where)
    # run.zip: a bundle signed with the key just made, as the probe or a scan writes one.
    key = keys.load_private(where / "cirt.key")
    with bundle.BundleWriter(where / "run.zip", kind="access-probe", signing_key=key) as out:
        out.add_bytes("measurements.jsonl", b'{"input": "https://example.org/"}\n')
    done = demo.sh(verify, where)
    assert "OK: 1 file and the signature hold" in done.stdout, done.stdout


def run_probe(block: Block, demo: Demo) -> None:
    import ssl

    import trustme

    where = demo.workdir("probe")
    helper_cmd, print_pin, keygen, probe_run, submit = block.commands()
    port = _free_port()
    # The control helper of the README runs in another country with a real certificate: here it
    # listens on this host with one made for 127.0.0.1, and the probe's list names this demo's own
    # home page (which the helper, refusing loopback targets as it should, cannot measure: the
    # verdict is inconclusive, and says so).
    authority = trustme.CA()
    leaf = authority.issue_cert("127.0.0.1")
    leaf.cert_chain_pems[0].write_to_path(str(where / "fullchain.pem"))
    leaf.private_key_pem.write_to_path(str(where / "privkey.pem"))
    (where / "privkey.pem").chmod(0o600)   # as certbot leaves it: the helper refuses 0644
    helper_cmd = helper_cmd.replace("…", EXAMPLE_TOKEN).replace(":8443", f":{port}")
    pin = demo.sh(print_pin, where).stdout.split()[0]
    assert pin.startswith("sha256//"), pin
    probe_run = probe_run.replace("SENTINELLE_CONTROL_TOKEN=…",
                                  f"SENTINELLE_CONTROL_TOKEN={EXAMPLE_TOKEN}").replace(
        "'sha256//…'", f"'{pin}'").replace("https://helper.example.ch:8443",
                                            f"https://127.0.0.1:{port}")
    (where / "cu.csv").write_text(f"url,category_code,notes\n{demo.url}/,GOVT,home page\n")
    for kind in ("Country", "ASN"):
        shutil.copy(FIXTURES / "maxmind" / f"GeoLite2-{kind}-Test.mmdb",
                    where / f"GeoLite2-{kind}.mmdb")
    log = where / "helper.log"
    with open(log, "w") as out:
        helper = subprocess.Popen(["bash", "-c", helper_cmd], cwd=where, env=demo.env,
                                  stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        context = ssl.create_default_context()
        authority.configure_trust(context)
        _wait_for(f"https://127.0.0.1:{port}/v1/identity", helper, log, context=context)
        demo.sh(keygen, where)
        demo.sh(probe_run, where)
        lines = (where / "cu.jsonl").read_text().splitlines()
        assert len(lines) == 1 and json.loads(lines[0])["input"] == f"{demo.url}/"
        done = demo.sh(submit, where)
        assert re.search(r"Draft report CU-\d{4}-\d+ was created", done.stdout), done.stdout
    finally:
        # The helper this test started, and only it (gone already if it refused to start:
        # then _wait_for's error, with its log, is the one to see).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(helper.pid, signal.SIGTERM)
        helper.wait(10)


def run_routing(block: Block, demo: Demo) -> None:
    where = demo.workdir("routing")
    mrt = FIXTURES / "bgp" / "mrt"
    updates = mrt / "bgpkit-parser" / "updates.20100227.1600.first-796-records.gz"
    shutil.copy(updates, where / "updates.20261128.1200.gz")
    shutil.copy(updates, where / "updates.gz")
    shutil.copy(mrt / "pyasn" / "bview.20140112.1600_3samples.bz2",
                where / "bview.gz")           # bzip2 under a .gz name: read by its content
    # Test data standing in for Cuba's VRPs: a prefix these 2010 updates announce from AS7419.
    (where / "rpki-client.json").write_text(json.dumps({"roas": [
        {"asn": 27725, "prefix": "38.107.132.0/22", "maxLength": 22, "ta": "lacnic"}]}))
    (where / "20261101.as-rel.txt").write_text("# CAIDA as-rel\n174|7419|-1\n6453|174|0\n")
    demo.sh("sentinelle evidence keygen --out cirt.key", where)   # the README's earlier step
    dump, to_watch, scan, submit = block.commands()
    done = demo.sh(dump, where)
    assert done.stdout.startswith("BGP4MP|"), done.stdout[:500]
    demo.sh(to_watch, where)
    assert "38.107.132.0/22" in (where / "watch.yaml").read_text()
    demo.sh(scan, where)
    alerts = [json.loads(line) for line in (where / "alerts.jsonl").read_text().splitlines()]
    assert any(alert["type"] == "E|0" for alert in alerts), alerts
    done = demo.sh(submit, where)
    assert re.search(r"Draft report CU-\d{4}-\d+ was created", done.stdout), done.stdout


def run_watch_yaml(block: Block, demo: Demo) -> None:
    from sentinelle.observatory.routing import watchlist

    watched = watchlist.loads(block.text, "README.md")
    assert watched.states["CU"].asns == {27725} and len(watched) == 1


def run_report(block: Block, demo: Demo) -> None:
    where = demo.workdir("report")
    (command,) = block.commands()
    done = demo.sh(_optional_included(command), where)
    assert "wrote" in done.stdout
    assert (where / "C27-70-F.pdf").read_bytes().startswith(b"%PDF")
    assert (where / "C27-70-F-annex.csv").read_text().startswith("table,key,label,column,value")


STIX_EVENTS = {"type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d",
               "objects": [{
                   "type": "incident", "spec_version": "2.1",
                   "id": "incident--7a2b1c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
                   "created": "2026-03-01T08:00:00.000Z",
                   "modified": "2026-03-01T08:00:00.000Z",
                   "name": "Phishing wave against ministries",
                   "description": "Credential phishing."}]}


def run_import_export(block: Block, demo: Demo) -> None:
    from sentinelle.exchange import formats

    where = demo.workdir("exchange")
    (where / "events.json").write_text(json.dumps(STIX_EVENTS))
    import_cmd, export_cmd, curl_import, curl_export = block.commands()
    word, names = _alternatives(import_cmd)
    assert set(names) == {"auto", *formats.FORMAT_MODULES}, "the README's import formats"
    done = demo.sh(_optional_included(import_cmd).replace(word, "auto"), where)
    assert "dry run, nothing written — reports: 1 created" in done.stdout, done.stdout
    minimal = re.sub(r"\s*\[[^\]]*\]", "", import_cmd)
    done = demo.sh(minimal, where)
    assert done.stdout.strip().endswith("0 rejected"), done.stdout[-500:]
    word, names = _alternatives(export_cmd)
    starts = {"stix": b'{"type": "bundle"', "misp": b"{", "csv": b"\xef\xbb\xbfTitle,",
              "xlsx": b"PK"}
    assert set(names) == set(starts), "the README's export formats"
    for name in names:
        demo.sh(_optional_included(export_cmd).replace(word, name), where)
        assert (where / "cu.json").read_bytes().startswith(starts[name]), name
    job = _last_json(demo.sh(curl_import, where).stdout)
    deadline = time.monotonic() + 90
    while job.get("status") not in ("succeeded", "failed") and time.monotonic() < deadline:
        time.sleep(0.5)
        job = demo.get_json(f"/api/v1/jobs/{job['id']}/")
    assert job.get("status") == "succeeded", job
    demo.sh(curl_export, where)
    exported = json.loads((where / "cu.json").read_text())
    assert exported["type"] == "bundle"


def run_taxii(block: Block, demo: Demo) -> None:
    done = demo.sh(block.text, demo.workdir("taxii"))
    envelope = json.loads(done.stdout)
    assert envelope["objects"] and {o["type"] for o in envelope["objects"]} == {"incident"}


def run_federate(block: Block, demo: Demo) -> None:
    where = demo.workdir("federate")
    # The hub is this demo itself, reached with a token of its own focal point of Cuba.
    (where / "hub-token").write_text(demo.token)
    script = block.text.replace("https://hub.example.org/taxii2/", f"{demo.url}/taxii2/")
    script = script.replace("/run/secrets/hub-token", str(where / "hub-token"))
    done = demo.sh(script, where)
    directions = [json.loads(line)["direction"] for line in done.stdout.splitlines()
                  if line.startswith("{")]
    assert directions == ["pull", "push"], done.stdout[-2000:]


# Each fenced block of README.md, by its first line: how it is run here, or why it is not.
RUNNERS = {
    "TOKEN=$(sentinelle token create --user fp-cu --expires-days 90)": run_rest_api,
    "sentinelle audit checkpoint --output audit-2026-12-02.json   # the head's sequence and "
    "hash, signed": run_audit_checkpoint,
    "sentinelle files check            # rows whose file is missing, files no row names, "
    "pending copies, SHA-256 mismatches": run_files_check,
    "sentinelle evidence keygen --out cirt.key            # private key cirt.key (0600), "
    "public cirt.key.pub": run_evidence,
    "# at the control vantage point (another country):": run_probe,
    "sentinelle routing dump updates.20261128.1200.gz          # bgpdump -m lines (a drop-in "
    "for scripts)": run_routing,
    "states:": run_watch_yaml,
    "sentinelle report annual --year 2026 --lang fr --format pdf --output C27-70-F.pdf \\":
        run_report,
    "sentinelle import events.json --state CU [--format auto|stix|misp|iodef|veris|xarf|arf|"
    "ooni|csv|xlsx] \\": run_import_export,
    "curl -g -H \"Authorization: Bearer $TOKEN\" -H 'Accept: application/taxii+json;"
    "version=2.1' \\": run_taxii,
    "sentinelle federate pull --remote https://hub.example.org/taxii2/ --api-root sentinelle \\":
        run_federate,
}
NOT_RUNNABLE = {
    "make demo   # venv, install, translations, migrate, seed a demo year, serve on "
    "127.0.0.1:8000":
        "`make demo` serves until stopped and `make test` runs the whole suite, this test "
        "among it; the demo fixture here does what `make demo` does (migrate, seed-demo, "
        "runserver, db_worker) and test_make_demo_* check its recipe with `make -n`",
    "SENTINELLE_DATA_DIR=/var/lib/sentinelle":
        "settings for a production host (PostgreSQL at db.example.org, TLS proxy), not "
        "commands: tests/project/test_trust_production.py runs `sentinelle check --deploy` with "
        "exactly this block",
    "python3 -m venv /opt/sentinelle":
        "installs the wheel and every dependency into a new venv (a minute, from PyPI): "
        "scripts/wheel_smoke.sh, run by .ci/run, does exactly this in a temporary folder and "
        "runs the installed platform; tests/project/test_wheel.py checks the wheel's contents",
    "export SENTINELLE_WEBHOOK_SECRET=…":
        "the live routing monitor runs until stopped and reads RIS Live over the Internet: "
        "tests/observatory/routing/test_routing_monitor.py runs the same command against a "
        "loopback RIS Live replay server and webhook receiver, "
        "tests/observatory/routing/test_routing_live_lab.py with GoBGP "
        "exporting BMP",
}


def test_every_readme_block_is_run_or_says_why_not():
    firsts = [block.first for block in readme_blocks()]
    unknown = [f"README.md line {block.line}: {block.first}" for block in readme_blocks()
               if block.first not in RUNNERS and block.first not in NOT_RUNNABLE]
    assert not unknown, ("README blocks neither run by this test nor listed as not runnable "
                         "here (with the reason):\n" + "\n".join(unknown))
    stale = [first for first in [*RUNNERS, *NOT_RUNNABLE] if first not in firsts]
    assert not stale, f"no longer in README.md: {stale}"


def test_the_production_block_is_the_one_test_trust_production_reads():
    source = (ROOT / "tests" / "project" / "test_trust_production.py").read_text(encoding="utf-8")
    assert "SENTINELLE_DATA_DIR=/var/lib/sentinelle" in README.read_text(encoding="utf-8")
    assert "README" in source and "check" in source and "--deploy" in source


@pytest.mark.parametrize("first", list(RUNNERS), ids=[run.__name__ for run in RUNNERS.values()])
def test_readme_block_runs_as_written(demo, first):
    blocks = [block for block in readme_blocks() if block.first == first]
    assert blocks, f"README.md has no block starting {first!r} any more"
    RUNNERS[first](blocks[0], demo)


def test_the_report_options_the_readme_names_are_the_commands():
    from sentinelle.reports.options import FORMATS, LANGUAGES

    text = README.read_text(encoding="utf-8")
    said = re.search(r"`--lang` ([\w|-]+), `--format` ([\w|]+);", text)
    assert said, "the README no longer says which --lang and --format `report annual` takes"
    assert said.group(1).split("|") == list(LANGUAGES)
    assert said.group(2).split("|") == list(FORMATS)


def test_the_import_template_languages_the_readme_names_are_the_served_ones():
    from sentinelle.exchange import templates_csv

    text = " ".join(README.read_text(encoding="utf-8").split())
    said = re.search(r"import templates in the six official languages \(.*?`lang` is (.*?), by",
                     text)
    assert said, "the README no longer says in which languages the import templates come"
    languages = re.findall(r"`(\w+)`", said.group(1))
    assert languages == list(templates_csv.LANGUAGES)


def _options_of(words: list[str]) -> tuple[str, set[str]]:
    """The command a README line names (`sentinelle token create`) and the options it takes."""
    name, rest = words[0], words[1:]
    if name == "help":                  # answered by sentinelle.cli itself
        return "sentinelle help", {"--django"}
    if name in cli.PLAIN_GROUPS and rest[:1] == ["submit"]:
        name, rest = "submit_bundle", rest[1:]
    elif name in cli.PLAIN_GROUPS:
        if rest[:1] == ["dump"] and name == "routing":
            from sentinelle.observatory.routing.dump import USAGE

            return "routing dump", set(re.findall(r"--[\w-]+", USAGE))
        parser = importlib.import_module(cli.PLAIN_GROUPS[name]).build_parser()
        return _descend(parser, rest, f"sentinelle {name}")
    commands = get_commands()
    django_name = name.replace("-", "_")
    assert django_name in commands, f"`sentinelle {name}` is not a command"
    command = load_command_class(commands[django_name], django_name)
    return _descend(command.create_parser("sentinelle", django_name), rest, f"sentinelle {name}")


def _descend(parser: argparse.ArgumentParser, rest: list[str], path: str):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and rest:
            assert rest[0] in action.choices, f"{path} has no subcommand {rest[0]!r}"
            return _descend(action.choices[rest[0]], rest[1:], f"{path} {rest[0]}")
    return path, {option for action in parser._actions for option in action.option_strings}


def test_every_command_the_readme_names_in_passing_exists_with_its_options():
    spans = set(re.findall(r"`sentinelle ([^`]+)`", README.read_text(encoding="utf-8")))
    wrong = []
    for span in sorted(spans):
        words = span.replace("\\|", "|").split()
        if words[0] == "COMMAND":
            continue
        path, options = _options_of(words)
        for option in re.findall(r"(?<![\w-])--[a-z][\w-]*", span):
            if option not in options:
                wrong.append(f"`sentinelle {span}`: {path} has no option {option}")
    assert not wrong, "\n".join(wrong)


def test_routing_dump_counts_one_record_in_the_singular(tmp_path, capsys):
    import gzip
    import struct

    raw = gzip.decompress((FIXTURES / "bgp" / "mrt" / "bgpkit-parser" /
                           "updates.20100227.1600.first-796-records.gz").read_bytes())
    length = struct.unpack("!I", raw[8:12])[0]
    one = raw[:12 + length] + raw[12 + length:12 + length + 20]   # one record, then a cut one
    path = tmp_path / "cut.mrt"
    path.write_bytes(one)
    code, _out, err = _main(capsys, "routing", "dump", str(path))
    assert code == 0
    assert "cut.mrt: 1 record, 0 lines; truncated; 1 damaged region skipped" in err, err
