"""TAXII 2.1 server (OASIS TAXII 2.1, sections 4-5): plain Django views.

Every request needs a Bearer token (the API tokens of core.ApiToken); a read-only token cannot
POST. Requests must accept ``application/taxii+json;version=2.1`` (else 406) and POST bodies must
be of that type (else 415). Errors are TAXII error messages (section 3.6.1), with the TAXII
media type, and their statuses are those of the specification's table (section 3.6):

- 400: a query parameter or ``next`` key this server cannot read, a body that is not a JSON
  envelope; 401: no token or a bad one; 403: a POST to a collection the token may not write
  (a read-only collection, a read-only token, a user who is not a focal point);
- 404: an API root, collection, object or status that does not exist *or that the client may
  not see* (the specification's 404 covers both: a State never learns that a group it is not
  in exists); 405 with ``Allow``; 406; 413: a body over the root's ``max_content_length``;
  415: a POST that is not ``application/taxii+json``; 422: an envelope holding something that
  is not a STIX 2.1 object (an objects list whose objects are STIX but break an import rule is
  accepted: 202, and the status resource names each failure).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions

from sentinelle.core.api.authentication import BearerTokenAuthentication
from sentinelle.core.models import Job
from sentinelle.exchange.exporters.stix import timestamp
from sentinelle.exchange.formats import stix
from sentinelle.exchange.importer import import_records
from sentinelle.exchange.records import FormatError, ReportRecord
from sentinelle.exchange.taxii import collections as tc
from sentinelle.exchange.taxii import paging

MEDIA_TAXII = "application/taxii+json;version=2.1"
MAX_CONTENT_LENGTH = 10 * 1024 * 1024
STATUS_KIND = "taxii-add"


class TaxiiError(Exception):
    def __init__(self, status: int, title: str, description: str = ""):
        super().__init__(title)
        self.status, self.title, self.description = status, title, description


def taxii_response(body: dict[str, Any], status: int = 200,
                   headers: dict[str, str] | None = None) -> HttpResponse:
    response = HttpResponse(json.dumps(body, ensure_ascii=False), status=status,
                            content_type=MEDIA_TAXII)
    for key, value in (headers or {}).items():
        response[key] = value
    return response


def max_content_length() -> int:
    """What the API roots advertise, and accept: Django refuses to read a body over
    DATA_UPLOAD_MAX_MEMORY_SIZE, so a larger advertised limit would be a broken promise."""
    django_cap = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return MAX_CONTENT_LENGTH if django_cap is None else min(MAX_CONTENT_LENGTH, django_cap)


def _error(exc: TaxiiError) -> HttpResponse:
    response = taxii_response({"title": exc.title, "description": exc.description,
                               "http_status": str(exc.status)}, status=exc.status)
    if exc.status == 401:
        response["WWW-Authenticate"] = "Bearer"
    return response


def refused_parameter(request: HttpRequest, name: str, message: str) -> HttpResponse:
    """core.querystring's answer under /taxii2/ to a query parameter it refuses."""
    return _error(TaxiiError(400, _("Bad request."), f"{name}: {message}"))


def _accepts_taxii(header: str) -> bool:
    for part in header.split(","):
        media, *params = [p.strip().lower() for p in part.split(";")]
        if media in ("application/taxii+json", "*/*", "application/*"):
            versions = [p.split("=", 1)[1] for p in params if p.startswith("version=")]
            if not versions or "2.1" in versions:
                return True
    return False


def _authenticate(request: HttpRequest):
    try:
        result = BearerTokenAuthentication().authenticate(request)
    except exceptions.AuthenticationFailed as exc:
        raise TaxiiError(401, _("Authentication failed."), str(exc.detail)) from None
    if result is None:
        raise TaxiiError(401, _("Authentication required."),
                         _("Send an API token: Authorization: Bearer <token>."))
    return result


def taxii_view(methods: tuple[str, ...] = ("GET",)):
    """Authentication, method and media-type negotiation for every TAXII endpoint."""
    def decorate(view: Callable[..., HttpResponse]):
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            try:
                if request.method not in methods:
                    response = _error(TaxiiError(405, _("Method not allowed.")))
                    response["Allow"] = ", ".join(methods)
                    return response
                if not _accepts_taxii(request.headers.get("Accept", "")):
                    raise TaxiiError(406, _("Not acceptable."),
                                     _("Accept %(media)s.") % {"media": MEDIA_TAXII})
                request.taxii_user, request.taxii_token = _authenticate(request)
                # A NUL in the path (a status or object id) names nothing, and PostgreSQL
                # cannot compare text holding one (a 500 there).
                if any("\x00" in value for value in kwargs.values() if isinstance(value, str)):
                    raise TaxiiError(404, _("No such TAXII endpoint."))
                return view(request, *args, **kwargs)
            except TaxiiError as exc:
                return _error(exc)
        wrapper.allowed = methods
        return wrapper
    return decorate


def _root_or_404(name: str, user) -> tc.ApiRoot:
    root = tc.api_root(name, user)
    if root is None:
        raise TaxiiError(404, _("No such API root."))
    return root


def _collection_or_404(root_name: str, key: str, user) -> tc.Collection:
    collection = tc.find_collection(_root_or_404(root_name, user), key)
    if collection is None:
        raise TaxiiError(404, _("No such collection."))
    return collection


# --- discovery, roots, collections -----------------------------------------------------------

@taxii_view()
def discovery(request: HttpRequest) -> HttpResponse:
    roots = [request.build_absolute_uri(reverse("taxii-root", args=[r.name]))
             for r in tc.api_roots(request.taxii_user)]
    return taxii_response({
        "title": _("%(site)s TAXII 2.1 server") % {"site": settings.SITE_NAME},
        "description": _("ICT security incident reports and indicators shared between ITU "
                         "Member States."),
        "default": roots[0], "api_roots": roots})


@taxii_view()
def root(request: HttpRequest, root: str) -> HttpResponse:
    found = _root_or_404(root, request.taxii_user)
    return taxii_response({"title": str(found.title), "description": str(found.description),
                           "versions": [MEDIA_TAXII], "max_content_length": max_content_length()})


@taxii_view()
def collections(request: HttpRequest, root: str) -> HttpResponse:
    found = _root_or_404(root, request.taxii_user)
    return taxii_response({"collections": [c.resource(request.taxii_user)
                                           for c in found.collections]})


@taxii_view()
def collection(request: HttpRequest, root: str, collection: str) -> HttpResponse:
    found = _collection_or_404(root, collection, request.taxii_user)
    return taxii_response(found.resource(request.taxii_user))


# --- objects ---------------------------------------------------------------------------------

def _parse_time(value: str, name: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
        # In UTC here, as the database compares it: year 9999 with a negative offset (or year
        # 1 with a positive one) leaves the calendar, which would be a 500 there.
        return parsed.astimezone(dt.UTC)
    except (ValueError, OverflowError):
        raise TaxiiError(400, _("Bad request."),
                         _("%(name)s is not a timestamp.") % {"name": name}) from None


def _filters(request: HttpRequest, object_id: str | None = None) -> tc.Filters:
    query = request.GET

    def listed(key: str) -> set[str] | None:
        values = {v.strip() for raw in query.getlist(key) for v in raw.split(",") if v.strip()}
        return values or None

    filters = tc.Filters(types=listed("match[type]"), ids=listed("match[id]"),
                         versions=listed("match[version]"))
    if object_id is not None:
        filters.ids = {object_id}
    if query.get("added_after"):
        filters.added_after = _parse_time(query["added_after"], "added_after")
    if filters.versions:
        filters.versions = {v if v in ("first", "last", "all")
                            else timestamp(_parse_time(v, "match[version]"))
                            for v in filters.versions}
    spec = listed("match[spec_version]")
    if spec and "2.1" not in spec:
        filters.ids = {"none"}   # we only hold STIX 2.1
    return filters


def _date(value: dt.datetime) -> str:
    # Microseconds, so that added_after=<the last date> never returns that object again.
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _page(request: HttpRequest, found: tc.Collection, filters: tc.Filters) -> paging.Page:
    try:
        return paging.page(found, request.taxii_user, filters, request.GET.get("limit"),
                           request.GET.get("next"))
    except paging.BadKey:
        raise TaxiiError(400, _("Bad request."),
                         _("next is not a key this server gave.")) from None


def _page_response(result: paging.Page, shape) -> HttpResponse:
    chosen = result.entries
    body: dict[str, Any] = {"more": result.more}
    if result.more:
        body["next"] = result.next
    if chosen:
        body["objects"] = [shape(e) for e in chosen]
    headers = {}
    if chosen:
        headers = {"X-TAXII-Date-Added-First": _date(chosen[0].date_added),
                   "X-TAXII-Date-Added-Last": _date(chosen[-1].date_added)}
    return taxii_response(body, headers=headers)


@taxii_view(methods=("GET", "POST"))
def objects(request: HttpRequest, root: str, collection: str) -> HttpResponse:
    found = _collection_or_404(root, collection, request.taxii_user)
    if request.method == "POST":
        return _add_objects(request, found)
    return _page_response(_page(request, found, _filters(request)), lambda e: e.build())


@taxii_view()
def object_detail(request: HttpRequest, root: str, collection: str,
                  object_id: str) -> HttpResponse:
    found = _collection_or_404(root, collection, request.taxii_user)
    result = _page(request, found, _filters(request, object_id))
    if not result.entries and not request.GET.get("next"):
        raise TaxiiError(404, _("No such object."))
    return _page_response(result, lambda e: e.build())


@taxii_view()
def versions(request: HttpRequest, root: str, collection: str, object_id: str) -> HttpResponse:
    found = _collection_or_404(root, collection, request.taxii_user)
    result = _page(request, found, _filters(request, object_id))
    if not result.entries and not request.GET.get("next"):
        raise TaxiiError(404, _("No such object."))
    body: dict[str, Any] = {"more": result.more,
                            "versions": [e.version for e in result.entries]}
    if result.more:
        body["next"] = result.next
    return taxii_response(body)


@taxii_view()
def manifest(request: HttpRequest, root: str, collection: str) -> HttpResponse:
    found = _collection_or_404(root, collection, request.taxii_user)
    return _page_response(_page(request, found, _filters(request)), lambda e: {
        "id": e.id, "date_added": _date(e.date_added), "version": e.version,
        "media_type": tc.MEDIA_STIX})


# --- adding objects, status ------------------------------------------------------------------

def _content_type_ok(header: str) -> bool:
    media, *params = [p.strip().lower() for p in header.split(";")]
    versions = [p.split("=", 1)[1] for p in params if p.startswith("version=")]
    return media == "application/taxii+json" and (not versions or "2.1" in versions)


def _add_objects(request: HttpRequest, found: tc.Collection) -> HttpResponse:
    user, token = request.taxii_user, request.taxii_token
    if not _content_type_ok(request.headers.get("Content-Type", "")):
        raise TaxiiError(415, _("Unsupported media type."),
                         _("Send %(media)s.") % {"media": MEDIA_TAXII})
    if getattr(token, "read_only", False) or not found.can_write(user):
        raise TaxiiError(403, _("You may not write to this collection."))
    posted = _envelope_objects(request)
    bundle = json.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}",
                         "objects": posted}).encode()
    requested = timezone.now()
    try:
        records = list(_for_collection(stix.parse(io.BytesIO(bundle)), found))
    except FormatError as exc:
        raise TaxiiError(422, _("Unprocessable envelope."), str(exc)) from None
    summary = import_records(iter(records), user=user, default_tlp=found.default_tlp,
                             channel="federation",
                             source_name=f"taxii:{found.root}/{found.name}"[:64])
    status = _status_resource(posted, summary, requested)
    Job.objects.create(kind=STATUS_KIND, owner=user, status=Job.Status.SUCCEEDED,
                       params={"status_id": status["id"], "collection": found.id},
                       result=status, started_at=requested, finished_at=timezone.now())
    return taxii_response(status, status=202)


def _too_large() -> TaxiiError:
    return TaxiiError(413, _("The envelope is too large."),
                      _("The limit is %(limit)s bytes (max_content_length of the API root).")
                      % {"limit": max_content_length()})


def _envelope_objects(request: HttpRequest) -> list:
    """The objects of the POSTed envelope: 413 over the limit (judged on the declared length,
    before a byte is read), 400 if it is not a JSON envelope, 422 if an object is not STIX."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > max_content_length():
        raise _too_large()
    try:
        body = request.body
    except RequestDataTooBig:
        raise _too_large() from None
    if len(body) > max_content_length():
        raise _too_large()
    try:
        posted = json.loads(body).get("objects")
    except (ValueError, AttributeError, RecursionError):   # RecursionError: ~1000-deep JSON
        posted = None
    if not isinstance(posted, list):
        raise TaxiiError(400, _("Bad request."),
                         _("The body must be a TAXII envelope with an 'objects' list."))
    for index, obj in enumerate(posted):
        reason = _not_stix(obj)
        if reason:
            raise TaxiiError(422, _("Unprocessable envelope."),
                             f"$.objects[{index}]: {reason}")
    return posted


def _not_stix(obj: Any) -> str:
    """Why `obj` is no STIX 2.1 object at all ('' if it is one): the import rules judge the
    rest, object by object, in the status resource."""
    if not isinstance(obj, dict):
        return _("not a JSON object")
    kind, ident = obj.get("type"), obj.get("id")
    if not isinstance(kind, str) or not isinstance(ident, str) \
            or not ident.startswith(f"{kind}--"):
        return _("a STIX object has a type and an id of the form TYPE--UUID")
    if obj.get("spec_version", "2.1") != "2.1":
        return _("only STIX 2.1 objects are accepted")
    return ""


def _for_collection(records, found: tc.Collection):
    for record in records:
        if found.group is not None and isinstance(record, ReportRecord) \
                and not record.sharing_group:
            record.sharing_group = found.group.name   # written to a group: shared with it
        yield record


def _status_resource(posted: list, summary, requested: dt.datetime) -> dict[str, Any]:
    reasons: dict[int, str] = {}
    for rejection in summary.rejected:
        where = rejection.where
        if where.startswith("$.objects["):
            index = int(where[len("$.objects["):].split("]", 1)[0])
            reasons.setdefault(index, f"{where}: {rejection.reason}")
    successes, failures = [], []
    for index, obj in enumerate(posted):
        ident = {"id": obj.get("id", "") if isinstance(obj, dict) else "",
                 "version": obj.get("modified") or obj.get("created") or ""
                 if isinstance(obj, dict) else ""}
        if summary.written:
            successes.append(ident)
        else:
            failures.append({**ident, "message": reasons.get(index) or _(
                "Not added: another object of the envelope was rejected (all or nothing).")})
    return {"id": str(uuid.uuid4()), "status": "complete",
            "request_timestamp": _date(requested), "total_count": len(posted),
            "success_count": len(successes), "successes": successes,
            "failure_count": len(failures), "failures": failures,
            "pending_count": 0, "pendings": []}


@taxii_view(methods=("GET", "POST", "PUT", "PATCH", "DELETE"))
def not_found(request: HttpRequest, path: str = "") -> HttpResponse:
    """Any other address under /taxii2/: a TAXII 404, not the site's HTML page."""
    raise TaxiiError(404, _("No such TAXII endpoint."))


@taxii_view()
def status(request: HttpRequest, root: str, status_id: str) -> HttpResponse:
    _root_or_404(root, request.taxii_user)
    job = Job.objects.for_user(request.taxii_user).filter(
        kind=STATUS_KIND, params__status_id=status_id).first()
    if job is None:
        raise TaxiiError(404, _("No such status."))
    return taxii_response(job.result)
