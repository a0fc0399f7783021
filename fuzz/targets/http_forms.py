"""Every other body a signed-in user can send (issue 20, part 3): the web forms found on the
pages each role reaches, and the API's sub-resources and other apps' endpoints. Any answer of
500 or more, or any exception out of a view, is a failure; ``http_bodies`` covers the report
and summary-return creation endpoints.

The web forms are not written down here but read from the pages (``PAGES``): each ``<form
method=post>`` found is posted with its own fields, the input put in one field or in all of
them (a JSON object's keys and values replace them), and its file inputs get the input as the
file's content under a hostile file name (path traversal, NUL, 300 characters, RTL override,
empty). ``COVERED`` names every route posted to, ``EXCLUDED`` every other route with the reason;
``tests/fuzz/test_fuzz.py`` checks that the two together are the whole URLconf, and ``setup``
that every covered web route's form was found (a form that moved would otherwise silently
go unfuzzed)."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import logging
import random
from html.parser import HTMLParser

from fuzz.harness import ROOT, Target
from fuzz.targets import http_bodies

STATE = "CU"
# Each input goes to a few of the posts (a different few for each input): parsing and
# re-rendering a 1 MB field costs half a second or more per form.
LARGE = 64 * 1024
LARGE_POSTS = 3
SMALL_POSTS = 12
_state: dict = {}


class _JobErrors(logging.Handler):
    """A job that fails unexpectedly (jobs.py logs it, the user is told "failed unexpectedly")
    is the 500 of an import or a bundle upload, answered later: a failure too."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append(self.format(record))

# Hostile names for uploaded files: path traversal, NUL, overlong, RTL override, empty, odd.
FILE_NAMES = (b"../../../etc/passwd", b"..\\..\\boot.ini", b"a\x00b.pdf", b"x" * 300 + b".txt",
              "\u202egnp.exe".encode(), b"", b".", b"CON", b" .txt", b"%2e%2e%2fevil",
              b"\xff\xfe.bin", "r\u00e9sum\u00e9 \U0001f600.pdf".encode(), b"a/b/c.csv",
              b"name\r\nX-Header: 1.txt", b'quo"te.txt')

# Route name -> how the fuzz reaches it ("form": found on the pages below).
COVERED = {
    # web forms (read from PAGES)
    "login": "form", "logout": "form", "two-factor": "form", "tokens": "form",
    "token-revoke": "form", "incident-edit": "form", "incident-transition": "form",
    "incident-message": "form", "incident-evidence": "form", "summary-create": "form",
    "summary-upload": "form", "incident-create": "form", "incident-validate": "form",
    "exchange": "form", "analysis-merge": "form", "analysis-handling-times": "form",
    "analysis-link": "form", "analysis-unlink": "form", "reports": "form",
    "actionplan-action-new": "form", "actionplan-action-edit": "form",
    "actionplan-indicator-new": "form", "actionplan-indicator-edit": "form",
    "actionplan-update-new": "form", "gateway-create": "form", "gateway-edit": "form",
    "gateway-translate": "form", "gateway-moderate": "form", "observatory": "form",
    "observatory-corroborate": "form", "observatory-routing": "form", "set_language": "form",
    # API bodies (api_bodies below)
    "api-incident-detail": "PATCH JSON", "api-incident-transitions": "POST JSON",
    "api-incident-messages": "POST JSON and multipart with files",
    "api-incident-evidence": "POST multipart", "api-import-list": "POST multipart",
    "api-linked-incidents": "POST JSON", "api-observatory-submission-list": "POST multipart",
    "api-observatory-routing-events": "POST JSON and multipart",
    "taxii-objects": "POST TAXII envelope",
    # fuzz/targets/http_bodies.py
    "api-incident-list": "http_bodies", "api-summary-return-list": "http_bodies",
}
READ_ONLY = "answers GET only: no body is read"
EXCLUDED = {
    **{name: READ_ONLY for name in (
        "dashboard", "job-detail", "job-output", "healthz", "metrics", "incident-list",
        "incident-detail", "incident-diff", "incident-receipt", "evidence-download",
        "summary-list", "summary-template", "summary-detail", "import-template",
        "taxii-discovery", "taxii-root", "taxii-collections", "taxii-collection",
        "taxii-object", "taxii-versions", "taxii-manifest", "taxii-status", "taxii-not-found",
        "misp-feed", "misp-feed-manifest", "misp-feed-hashes", "misp-feed-event", "analysis",
        "analysis-public", "analysis-export", "analysis-public-export", "analysis-duplicates",
        "analysis-queue", "analysis-related", "analysis-links", "report-download",
        "actionplan", "actionplan-action", "actionplan-update-evidence", "gateway",
        "gateway-search", "gateway-moderation", "gateway-statistics", "gateway-export-json",
        "gateway-export-csv", "gateway-feed", "gateway-list", "gateway-detail",
        "observatory-submission", "observatory-submission-csv", "observatory-index",
        "observatory-index-csv", "observatory-campaigns", "observatory-campaign",
        "observatory-routing-watch", "api-job-list", "api-job-detail", "api-evidence-download",
        "api-summary-return-detail", "api-taxonomy-list", "api-root", "api-export-list",
        "api-statistics", "api-gateway-list", "api-observatory-submission-detail",
        "api-observatory-campaign-list", "api-observatory-campaign-detail",
        "api-observatory-routing-alert-list", "api-observatory-routing-alert-detail",
        "api-observatory-access-index", "api-observatory-routing-watch", "api-schema",
        "api-docs", "api-incident-versions")},
    "api-linked-incident-unlink": "DELETE without a body; the ids are path converters",
    "admin-login": "the sign-in form again (core.views.admin_login), fuzzed as login",
}
# Django's own admin (staff only, Django's forms): outside the project's code.
EXCLUDED_PREFIXES = ("admin:",)

# (role, page): the pages whose post forms are fuzzed, "{name}" filled from the set-up's ids.
PAGES = (
    ("anonymous", "/account/login/"),
    ("focal", "/incidents/{incident}/"), ("focal", "/incidents/{incident}/edit/"),
    ("focal", "/incidents/new/"), ("focal", "/returns/new/"), ("focal", "/returns/upload/"),
    ("focal", "/exchange/"), ("focal", "/account/tokens/"), ("focal", "/account/two-factor/"),
    ("focal", "/observatory/"), ("focal", "/observatory/routing/"),
    ("focal", "/gateway/{kind}/new/"), ("focal", "/gateway/{kind}/{entry}/edit/"),
    ("focal", "/gateway/{kind}/{entry}/translate/"), ("focal", "/"),
    ("analyst", "/incidents/{incident}/"), ("analyst", "/analysis/duplicates/"),
    ("analyst", "/analysis/handling-times/"), ("analyst", "/analysis/links/"),
    ("analyst", "/reports/"), ("analyst", "/action-plan/new/"),
    ("analyst", "/action-plan/{action}/edit/"), ("analyst", "/action-plan/{action}/"),
    ("analyst", "/action-plan/{action}/indicators/new/"),
    ("analyst", "/action-plan/indicators/{indicator}/updates/new/"),
    ("analyst", "/action-plan/{action}/indicators/{indicator}/edit/"),
    ("analyst", "/gateway/moderation/"), ("analyst", "/gateway/{kind}/{entry}/"),
    ("analyst", "/observatory/submissions/{submission}/"),
)


class _Forms(HTMLParser):
    """The post forms of a page: action, enctype and fields (name, type, default values)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self._form: dict | None = None
        self._select: list | None = None
        self._textarea: list | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._form = {"action": a.get("action", ""), "method": a.get("method", "get").lower(),
                          "multipart": "multipart" in a.get("enctype", ""), "fields": []}
            self.forms.append(self._form)
            return
        if self._form is None or not a.get("name"):
            return
        kind = a.get("type", "text").lower() if tag == "input" else tag
        if tag in ("input", "button") and kind in ("checkbox", "radio") \
                and "checked" not in a:
            self._form["fields"].append((a["name"], kind, None))
        elif tag == "input" or tag == "button":
            self._form["fields"].append((a["name"], kind, a.get("value", "")))
        elif tag == "select":
            self._select = [a["name"], "select", None]
            self._form["fields"].append(self._select)
        elif tag == "option" and self._select is not None:
            if self._select[2] is None or "selected" in a:
                self._select[2] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = [a["name"], "textarea", ""]
            self._form["fields"].append(self._textarea)

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea[2] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def _make_template(_database) -> None:  # noqa: ANN001 - a Path, or a PostgreSQL name
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    # seed_observatory keeps its demo key in DATA_DIR: the fuzz's folder, not the project's var/.
    settings.DATA_DIR = http_bodies.WORK / "data"
    # The demo's action plan, gateway entries and observatory bundles: something to edit.
    # Their progress lines must not reach the harness's pipe.
    with contextlib.redirect_stdout(io.StringIO()):
        for command in ("seed_actionplan", "seed_gateway", "seed_observatory"):
            call_command(command, verbosity=0, stdout=io.StringIO())


def setup() -> dict:
    http_bodies.setup_django()
    # The seed commands' sources are part of the template's name: changed, it is made again.
    seeds = hashlib.sha256(b"".join(
        path.read_bytes() for path in sorted((ROOT / "src" / "sentinelle").glob(
            "*/management/commands/seed_*.py")))).hexdigest()[:8]
    template = http_bodies.template(_make_template, f"forms-{seeds}")
    used = http_bodies.child_database(template)
    _make_clients()
    _watch_jobs()
    return used


def _watch_jobs() -> None:
    handler = _JobErrors()
    handler.setFormatter(logging.Formatter("%(message)s"))
    logging.getLogger("sentinelle.core.jobs").addHandler(handler)
    _state["job_errors"] = handler.seen


def _check_jobs(path: str) -> None:
    errors = _state["job_errors"]
    if errors:
        trace = errors[-1]
        errors.clear()
        raise AssertionError(f"a job started by {path} failed unexpectedly: {trace[-3000:]}")


def _make_clients() -> None:
    from django.test import Client
    from django.urls import resolve

    from sentinelle.actionplan.models import Indicator
    from sentinelle.analysis import linking
    from sentinelle.core.models import ApiToken, MemberState, Role, SharingGroup, User
    from sentinelle.gateway.models import Initiative
    from sentinelle.incidents.models import Incident
    from sentinelle.observatory.models import BundleSubmission

    state = MemberState.objects.get(alpha2=STATE)
    focal = User.objects.create(username="fuzz-focal", role=Role.FOCAL_POINT, state=state,
                                email="fuzz@example.org")
    analyst = User.objects.create(username="fuzz-analyst", role=Role.ANALYST,
                                  email="fuzz-analyst@example.org")
    # The seed report names both analysts.
    User.objects.create(username="fuzz-admin", role=Role.ADMIN, email="fuzz-admin@example.org")
    # The one token the revoke form may revoke: the API clients' own must stay valid.
    spare, _secret = ApiToken.issue(focal, read_only=True)
    clients = {"anonymous": Client()}
    for name, user in (("focal", focal), ("analyst", analyst)):
        web = Client()
        web.force_login(user)
        _token, secret = ApiToken.issue(user, read_only=False)
        clients[name] = web
        clients[f"api-{name}"] = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    seed = (ROOT / "fuzz" / "corpus" / "http_bodies" / "report.json").read_bytes()
    answer = clients["api-focal"].post("/api/v1/incidents/", seed,
                                       content_type="application/json")
    if answer.status_code != 201:
        raise RuntimeError(f"the seed report was refused: {answer.status_code} "
                           f"{answer.content[:500]!r}")
    # A linked incident, so that the report's page has the Secretariat's unlink form.
    linking.link(analyst, list(Incident.objects.order_by("-pk")[:2]), label="fuzz")
    # A sharing group of the focal point's State: its TAXII collection takes objects.
    group = SharingGroup.objects.create(name="fuzz")
    group.states.add(state)
    entry = Initiative.objects.order_by("pk").first()
    indicator = Indicator.objects.exclude(kind="computed").order_by("pk").first()
    ids = {"incident": Incident.objects.filter(state=state).latest("pk").pk,
           "kind": entry.KIND, "entry": entry.pk, "action": indicator.action.code,
           "indicator": indicator.code,
           "group": group.pk, "submission": BundleSubmission.objects.order_by("pk").first().pk}
    forms, found, unreached = [], set(), []
    for role, page in PAGES:
        path = page.format(**ids)
        response = clients[role].get(path)
        if response.status_code != 200:
            unreached.append(f"GET {path} as {role} answered {response.status_code}")
            continue
        parser = _Forms()
        parser.feed(response.content.decode())
        for form in parser.forms:
            action_path = (form["action"] or path).split("?")[0].split("#")[0]
            if form["method"] != "post" or not action_path.startswith("/"):
                continue
            name = resolve(action_path).url_name
            if name == "token-revoke" and action_path != f"/account/tokens/{spare.pk}/revoke/":
                continue
            if name in COVERED and (role, action_path) not in {(f[0], f[1]) for f in forms}:
                forms.append((role, action_path, form))
                found.add(name)
    # The report form's fields, as htmx posts them to be checked while the user types.
    forms += [(role, "/incidents/validate/", form) for role, path, form in list(forms)
              if path == "/incidents/new/"]
    found.add("incident-validate")
    missing = {k for k, how in COVERED.items() if how == "form"} - found
    if missing or unreached:
        raise RuntimeError(f"no form found on PAGES for {sorted(missing)}; {unreached}")
    # Signing out last, so that the other forms are posted signed in.
    forms.sort(key=lambda item: item[1] == "/account/logout/")
    _state.update(clients=clients, forms=forms, ids=ids,
                  users={"focal": focal, "analyst": analyst})
    # The TAXII collection must take objects: the community one would refuse them all unread.
    taxii = (ROOT / "fuzz" / "corpus" / "http_forms" / "taxii.json").read_bytes()
    answer = clients["api-focal"].post(
        f"/taxii2/group-{group.pk}/collections/shared/objects/", taxii,
        content_type="application/taxii+json;version=2.1",
        HTTP_ACCEPT="application/taxii+json;version=2.1")
    if answer.status_code != 202:
        raise RuntimeError(f"the TAXII collection answered {answer.status_code}")


def _pick(data: bytes, choices: tuple | list, salt: str = "") -> object:
    digest = hashlib.sha256(salt.encode() + data).digest()
    return choices[int.from_bytes(digest[:4], "big") % len(choices)]


def _multipart(pairs: list[tuple[bytes, bytes | None, bytes]]) -> tuple[bytes, str]:
    """A multipart body written by hand: the test client would clean the file names."""
    boundary = b"fuzzboundary7MA4YWxkTrZu0gW"
    out = []
    for name, filename, value in pairs:
        head = b'Content-Disposition: form-data; name="' + name + b'"'
        if filename is not None:
            head += b'; filename="' + filename + b'"\r\nContent-Type: application/octet-stream'
        out.append(b"--" + boundary + b"\r\n" + head + b"\r\n\r\n" + value + b"\r\n")
    out.append(b"--" + boundary + b"--\r\n")
    return b"".join(out), f"multipart/form-data; boundary={boundary.decode()}"


def _pairs(form: dict, data: bytes, fields: object) -> list[tuple[bytes, bytes | None, bytes]]:
    """The form's own fields, the input in one of them or all (or the JSON object's)."""
    text = [name for name, kind, _v in form["fields"]
            if kind not in ("file", "submit", "button", "checkbox", "radio", "hidden")]
    every = _pick(data, (True, False), "all") or not text
    target = _pick(data, text or [""], "one")
    # One submit button, as a browser sends: the view may branch on which (preview, save).
    buttons = [i for i, (_n, kind, _v) in enumerate(form["fields"]) if kind in ("submit",
                                                                                "button")]
    pressed = _pick(data, buttons, "button") if buttons else None
    pairs = []
    for i, (name, kind, value) in enumerate(form["fields"]):
        if name == "csrfmiddlewaretoken" or (value is None and kind != "select") \
                or (i in buttons and i != pressed):
            continue
        key = name.encode()
        if kind == "file":
            pairs.append((key, _pick(data, FILE_NAMES, name), data))
        elif isinstance(fields, dict) and name in fields:
            continue
        elif (every and name in text) or name == target:
            pairs.append((key, None, data))
        else:
            pairs.append((key, None, (value or "").encode()))
    if isinstance(fields, dict):
        pairs += [(str(k).encode("utf-8", "surrogatepass"), None, v)
                  for k, value in fields.items() for v in http_bodies.form_value(value)]
    return pairs


def _post_form(client, path: str, form: dict, data: bytes, fields: object) -> None:  # noqa: ANN001
    pairs = _pairs(form, data, fields)
    if form["multipart"] or any(f is not None for _k, f, _v in pairs):
        body, content_type = _multipart(pairs)
    else:
        body = http_bodies.urlencode([(k, v) for k, _f, v in pairs])
        content_type = "application/x-www-form-urlencoded"
    http_bodies.check(path, client.generic("POST", path, body, content_type=content_type))
    _check_jobs(path)


def _api_posts(data: bytes) -> list:
    """The API's bodies, each a call that posts ``data`` and checks the answer."""
    ids, clients = _state["ids"], _state["clients"]
    focal, analyst = clients["api-focal"], clients["api-analyst"]
    incident = f"/api/v1/incidents/{ids['incident']}/"
    name = _pick(data, FILE_NAMES, "api")
    posts = []

    def post(client, method: str, path: str, body: bytes, content_type: str,  # noqa: ANN001
             **headers: str) -> None:
        def call() -> int:
            code = http_bodies.check(path, client.generic(method, path, body,
                                                          content_type=content_type, **headers))
            _check_jobs(path)
            return code
        posts.append(call)

    for client, method, path in (
            (focal, "PATCH", incident), (focal, "POST", incident + "transitions/"),
            (analyst, "POST", incident + "transitions/"), (focal, "POST", incident + "messages/"),
            (analyst, "POST", "/api/v1/linked-incidents/"),
            (focal, "POST", "/api/v1/observatory/routing/events/")):
        post(client, method, path, data, "application/json")
    for path, pairs in (
        (incident + "messages/", [(b"body", None, data), (b"files", name, data)]),
        (incident + "evidence/", [(b"description", None, data[:600]), (b"file", name, data)]),
        ("/api/v1/imports/", [(b"format", None, _pick(data, (b"auto", b"stix", b"csv",
                                                             b"misp", data[:50]), "f")),
                              (b"dry_run", None, b"true"), (b"file", name, data)]),
        ("/api/v1/observatory/submissions/", [(b"expect", None, data[:100]),
                                              (b"file", name, data)]),
        ("/api/v1/observatory/routing/events/", [(b"event", None, data),
                                                 (b"bundle", name, data)]),
    ):
        post(focal, "POST", path, *_multipart(pairs))
    path = f"/taxii2/group-{ids['group']}/collections/shared/objects/"
    post(focal, "POST", path, data, "application/taxii+json;version=2.1",
         HTTP_ACCEPT="application/taxii+json;version=2.1")
    return posts


def run(data: bytes) -> None:
    try:
        fields = json.loads(data)
    except (ValueError, RecursionError):
        fields = None
    clients = _state["clients"]
    posts = _api_posts(data) + [
        functools.partial(_post_form, clients[role], path, form, data, fields)
        for role, path, form in _state["forms"]]
    # A few posts per input, not all (a second or more each for 1 MB): chosen from the input's
    # hash, so that the harness's re-run of a failing input alone posts the same ones. Over
    # many inputs every post is made; the sign-out, last in the list, stays last.
    count = LARGE_POSTS if len(data) > LARGE else SMALL_POSTS
    chosen = random.Random(hashlib.sha256(data).digest()).sample(range(len(posts)),
                                                                 min(count, len(posts)))
    for index in sorted(chosen):
        posts[index]()
    # The sign-out form (and a revoked token's page) ended the session: sign in again.
    for role, user in _state["users"].items():
        clients[role].force_login(user)


TARGET = Target(
    name="http_forms",
    seeds=(),
    run=run,
    refusals=(),
    kind="json",
    setup=setup,
    teardown=http_bodies.teardown,
)
