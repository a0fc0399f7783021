#!/usr/bin/env bash
# Build the wheel as an operator's `pip install .` does, install it into a fresh venv outside the
# checkout and run the installed platform there: migrate, French pages, an Arabic PDF report,
# static files, and the measuring tools' --help. .ci/run runs it after `make test`.
#
# Needs Python >= 3.11 with venv, access to PyPI or a pip cache (the build requirements and the
# dependencies) and pdftotext (Debian's poppler-utils). Usage: scripts/wheel_smoke.sh
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
started=$SECONDS

step() { echo "== wheel smoke: $* ($((SECONDS - started)) s)"; }
fail() { echo "wheel smoke FAILED: $*" >&2; exit 1; }

command -v pdftotext >/dev/null || fail "pdftotext is missing (apt-get install poppler-utils)"

step "copy the sources to $WORK/tree"
# A copy, so that the build sees neither the checkout's build/ (setuptools would pack stale
# files left there) nor its compiled .mo: the catalogues must come from the build hook.
mkdir "$WORK/tree"
# Nor the compiled MRT reader `pip install -e .` left in src: the wheel must build its own.
tar -C "$ROOT" --exclude=__pycache__ --exclude='*.pyc' --exclude='*.mo' --exclude='*.egg-info' \
  --exclude='*.so' --exclude='_mrt_accel.c' \
  -cf - pyproject.toml setup.py README.md LICENSE src | tar -C "$WORK/tree" -xf -

step "build the wheel (isolated: [build-system] requires)"
"$PYTHON" -m venv "$WORK/venv"
PIP=("$WORK/venv/bin/python" -m pip --quiet --disable-pip-version-check)
"${PIP[@]}" wheel --no-deps --wheel-dir "$WORK/dist" "$WORK/tree"
wheel=$(ls "$WORK"/dist/sentinelle-*.whl)

step "install $(basename "$wheel") into a fresh venv"
"${PIP[@]}" install "$wheel"
rm -rf "$WORK/tree"  # nothing below may read the sources

# Run from outside the checkout, with nothing of the checkout's environment.
cd "$WORK"
unset DATABASE_URL PYTHONPATH SENTINELLE_DEMO SENTINELLE_STATIC_ROOT DJANGO_SETTINGS_MODULE
export SENTINELLE_DATA_DIR="$WORK/data"
sentinelle=("$WORK/venv/bin/sentinelle")

where=$("$WORK/venv/bin/python" -c "import sentinelle; print(sentinelle.__file__)")
case "$where" in
  "$WORK/venv/"*) ;;
  *) fail "sentinelle is imported from $where, not from the fresh venv" ;;
esac

step "sentinelle migrate"
"${sentinelle[@]}" migrate --noinput -v 0

step "the home page in French, static files served"
"${sentinelle[@]}" shell -v 0 -c '
import sys
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()  # lets the test client in (ALLOWED_HOSTS)
response = Client().get("/", secure=True, HTTP_ACCEPT_LANGUAGE="fr", follow=True)
html = response.content.decode()
missing = [text for text in ("<html lang=\"fr\"", "Aller au contenu", "Tableau de bord")
           if text not in html]
if response.status_code != 200 or missing:
    sys.exit(f"home page in French: status {response.status_code}, missing {missing}")
# WhiteNoise serves the static files straight from the installed package.
for name in ("favicon.ico", "favicon.svg", "site.css", "site.js"):
    served = Client().get(f"/static/sentinelle/{name}", secure=True)
    if served.status_code != 200:
        sys.exit(f"/static/sentinelle/{name}: status {served.status_code}")
'

step "sentinelle report annual --lang ar --format pdf"
"${sentinelle[@]}" report annual --year 2025 --lang ar --format pdf --output "$WORK/council-ar.pdf"
text=$(pdftotext "$WORK/council-ar.pdf" -)
grep -q "تقرير" <<<"$text" || fail "the Arabic report has no Arabic text: ${text:0:400}"
if grep -q "Report by the Secretary-General" <<<"$text"; then
  fail "the Arabic report has English headings"
fi

step "sentinelle import --on-invalid skip: the valid indicator lands, the bad one is listed"
cat > "$WORK/feed.json" <<'JSON'
{"type": "bundle", "id": "bundle--6b2c2a4e-0e7a-4a50-9e47-6d3f0c9e1a01", "objects": [
 {"type": "indicator", "spec_version": "2.1", "id": "indicator--0f3a4f57-8c8b-4b5e-9d2e-3c1b2a0e9f11",
  "created": "2026-01-02T00:00:00.000Z", "modified": "2026-01-02T00:00:00.000Z",
  "pattern": "[ipv4-addr:value = '203.0.113.7']", "pattern_type": "stix", "valid_from": "2026-01-02T00:00:00.000Z"},
 {"type": "indicator", "spec_version": "2.1", "id": "indicator--0f3a4f57-8c8b-4b5e-9d2e-3c1b2a0e9f12",
  "created": "2026-01-02T00:00:00.000Z", "modified": "2026-01-02T00:00:00.000Z",
  "pattern": "[domain-name:value = 'domain bad.example']", "pattern_type": "stix", "valid_from": "2026-01-02T00:00:00.000Z"}]}
JSON
if "${sentinelle[@]}" import "$WORK/feed.json" --state CU --tlp green > "$WORK/refused.txt" 2>&1; then
  fail "an import with an invalid indicator was accepted without --on-invalid skip"
fi
"${sentinelle[@]}" import "$WORK/feed.json" --state CU --tlp green --on-invalid skip \
  > "$WORK/skipped.txt" 2>&1 || fail "import --on-invalid skip: $(cat "$WORK/skipped.txt")"
grep -q 'objects\[1\]' "$WORK/skipped.txt" || fail "the skipped indicator is not listed: $(cat "$WORK/skipped.txt")"

step "the MISP feed is served and asks for a token"
"${sentinelle[@]}" shell -v 0 -c '
import sys
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
status = Client().get("/feeds/misp/all/manifest.json", secure=True).status_code
if status != 401:
    sys.exit(f"/feeds/misp/all/manifest.json without a token: status {status}, not 401")
'

step "static files (collectstatic)"
SENTINELLE_STATIC_ROOT="$WORK/static" "${sentinelle[@]}" collectstatic --noinput -v 0
for file in favicon.ico favicon.svg site.css site.js; do
  [ -s "$WORK/static/sentinelle/$file" ] || fail "static/sentinelle/$file is not in the package"
done

step "sentinelle probe --help, sentinelle routing --help"
"${sentinelle[@]}" probe --help | grep -q "usage: sentinelle probe" || fail "probe --help"
"${sentinelle[@]}" routing --help | grep -q "usage: sentinelle routing" || fail "routing --help"

step "the compiled MRT reader is installed and sentinelle routing dump uses it"
"$WORK/venv/bin/python" - <<'PY' || fail "the compiled MRT reader"
import contextlib, io, os, struct, sys, tempfile
from sentinelle.observatory.routing import _mrt_accel, mrt_accel
from sentinelle.observatory.routing.dump import dump_main
if not _mrt_accel.__file__.endswith((".so", ".pyd")):
    sys.exit(f"_mrt_accel is not compiled: {_mrt_accel.__file__}")
# one BGP4MP_ET UPDATE: 198.51.100.0/24 from AS 64500 via 192.0.2.1
attrs = b"\x40\x01\x01\x00" + b"\x40\x02\x06\x02\x01" + struct.pack(">I", 64500) \
    + b"\x40\x03\x04\xc0\x00\x02\x01"
body = struct.pack(">HH", 0, len(attrs)) + attrs + b"\x18\xc6\x33\x64"
msg = b"\xff" * 16 + struct.pack(">HB", 19 + len(body), 2) + body
rec = struct.pack(">IIIHH", 509481, 64500, 64501, 0, 1) + bytes((192, 0, 2, 1, 192, 0, 2, 2)) + msg
path = os.path.join(tempfile.mkdtemp(), "updates.mrt")
with open(path, "wb") as fp:
    fp.write(struct.pack(">IHHI", 1445565678, 17, 4, len(rec)) + rec)
handled = []
class Spy:  # counts the records the compiled renderer takes
    def __init__(self, real):
        self.real = real
    def record(self, *args):
        k = self.real.record(*args)
        handled.append(k)
        return k
    def __getattr__(self, name):
        return getattr(self.real, name)
real_renderer = mrt_accel.renderer
mrt_accel.renderer = lambda ctx: Spy(real_renderer(ctx))
out = io.StringIO()
with contextlib.redirect_stdout(out):
    status = dump_main([path])
line = "BGP4MP_ET|1445565678.509481|A|192.0.2.1|64500|198.51.100.0/24|64500|IGP|192.0.2.1|0|0||NAG||\n"
if status != 0 or out.getvalue() != line or handled != [1]:
    sys.exit(f"routing dump: status {status}, output {out.getvalue()!r}, compiled {handled}")
PY

step "sentinelle routing monitor: an empty MRT directory is a lost feed, delivered to a webhook"
mkdir "$WORK/mrt" "$WORK/hook"
printf 'states:\n  CU:\n    asns: [65001]\n    prefixes: [198.18.0.0/16]\n' > "$WORK/watch.yaml"
# a webhook receiver: writes each delivery's body to hook/, answers 204
"$WORK/venv/bin/python" - "$WORK/hook" > "$WORK/hook.port" <<'PY' &
import http.server, pathlib, sys
out = pathlib.Path(sys.argv[1])
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        (out / self.headers["Idempotency-Key"]).write_bytes(body)
        self.send_response(204); self.end_headers()
    def log_message(self, *a): pass
server = http.server.HTTPServer(("127.0.0.1", 0), H)
print(server.server_address[1], flush=True)
server.serve_forever()
PY
receiver=$!
for _ in $(seq 50); do [ -s "$WORK/hook.port" ] && break; sleep 0.1; done
SENTINELLE_WEBHOOK_SECRET=smoke-secret "${sentinelle[@]}" routing monitor \
  --watch "$WORK/watch.yaml" --source "mrt-dir:$WORK/mrt" --feed-timeout 2 \
  --alert "webhook:http://127.0.0.1:$(cat "$WORK/hook.port")/" --state-dir "$WORK/routing" \
  2> "$WORK/monitor.log" &
monitor=$!
for _ in $(seq 100); do grep -qs '"feed-lost"' "$WORK"/hook/* && break; sleep 0.1; done
kill -TERM "$monitor"; wait "$monitor" || fail "the monitor exited $?: $(tail -5 "$WORK/monitor.log")"
kill "$receiver"
grep -qs '"feed-lost"' "$WORK"/hook/* || fail "no feed-lost delivered: $(tail -5 "$WORK/monitor.log")"
"${sentinelle[@]}" routing mute add --state-dir "$WORK/routing" --prefix 198.18.0.0/16 \
  --for 1h --reason "wheel smoke" --by smoke > /dev/null || fail "routing mute add"
"${sentinelle[@]}" routing mute verify --state-dir "$WORK/routing" > /dev/null \
  || fail "routing mute verify"

step "passed"
