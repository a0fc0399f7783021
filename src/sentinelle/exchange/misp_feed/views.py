"""The MISP feed over HTTP: read-only, by API token, with conditional GETs.

MISP's feed client (app/Model/Feed.php) sends the headers configured on the feed (here
``Authorization: Bearer <token>``), fetches ``manifest.json`` with ``If-None-Match`` once it
holds an ETag for it, then only the events whose manifest ``timestamp`` is newer than its copy.
Every file here has a strong ETag (sha256 of its bytes), ``Last-Modified`` (informative: only
the ETag decides a 304, because a report leaving a collection moves no timestamp) and answers
304 to a matching ``If-None-Match``. No token: 401 as TAXII; anything the token may not see, and
anything that does not exist: 404.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from functools import wraps

from django.core.cache import cache
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseNotModified,
    StreamingHttpResponse,
)
from django.utils.http import http_date
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions

from sentinelle.core.api.authentication import BearerTokenAuthentication
from sentinelle.exchange.misp_feed import conditional, content
from sentinelle.exchange.misp_feed.content import FeedCollection

JSON = "application/json"
CSV = "text/csv; charset=utf-8"
# How long an ETag answers for a fingerprint without the manifest being rebuilt: bounds how
# late a change the fingerprint cannot see (content.fingerprint) reaches a subscriber.
MANIFEST_ETAG_SECONDS = 600


class FeedError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def _error(exc: FeedError) -> HttpResponseBase:
    response = HttpResponse(json.dumps({"message": exc.message}), status=exc.status,
                            content_type=JSON)
    if exc.status == 401:
        response["WWW-Authenticate"] = "Bearer"
    if exc.status == 405:
        response["Allow"] = "GET, HEAD"
    return response


def _user(request: HttpRequest):
    try:
        result = BearerTokenAuthentication().authenticate(request)
    except exceptions.AuthenticationFailed as exc:
        raise FeedError(401, str(exc.detail)) from None
    if result is None:
        raise FeedError(401, _("Send an API token in the Authorization header, Bearer scheme."))
    return result[0]


def feed_view(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """GET/HEAD only, a token, and the collection resolved for its user (404 if not theirs)."""
    @csrf_exempt
    @wraps(view)
    def wrapper(request: HttpRequest, collection: str | None = None, **kwargs) -> HttpResponseBase:
        try:
            if request.method not in ("GET", "HEAD"):
                raise FeedError(405, _("The MISP feed is read-only."))
            user = _user(request)
            if collection is None:
                return view(request, user, **kwargs)
            found = content.find(collection, user)
            if found is None:
                raise FeedError(404, _("No such collection."))
            return view(request, user, found, **kwargs)
        except FeedError as exc:
            return _error(exc)
    return wrapper


def _blocks(chunks: list[bytes], size: int = 64 * 1024) -> Iterator[bytes]:
    """Entries joined into blocks of about 64 KiB as they are sent: one write per entry would be
    100,000 small writes to the socket."""
    block: list[bytes] = []
    length = 0
    for chunk in chunks:
        block.append(chunk)
        length += len(chunk)
        if length >= size:
            yield b"".join(block)
            block, length = [], 0
    if block:
        yield b"".join(block)


def _file(request: HttpRequest, chunks: list[bytes], content_type: str,
          last_modified) -> HttpResponseBase:
    """A 304, or the body: streamed when it comes in several chunks (a manifest of 100,000
    events is never joined into one more copy of itself)."""
    etag = conditional.etag(chunks)
    headers = {"ETag": etag, "Cache-Control": "private, no-cache", "Vary": "Authorization"}
    if last_modified is not None:
        headers["Last-Modified"] = http_date(last_modified.timestamp())
    response: HttpResponseBase
    if conditional.matches(request.headers.get("If-None-Match", ""), etag):
        response = HttpResponseNotModified()
    elif request.method == "HEAD":
        response = HttpResponse(b"", content_type=content_type)
    elif len(chunks) == 1:
        response = HttpResponse(chunks[0], content_type=content_type)
    else:
        response = StreamingHttpResponse(_blocks(chunks), content_type=content_type)
    if response.status_code == 200:
        response["Content-Length"] = str(sum(len(chunk) for chunk in chunks))
    for key, value in headers.items():
        response[key] = value
    return response


@feed_view
def index(request: HttpRequest, user) -> HttpResponseBase:
    """Which collections this token may subscribe to (not read by MISP; for people)."""
    body = content.canonical({"collections": [c.resource() for c in content.collections(user)]})
    return _file(request, [body], JSON, None)


@feed_view
def manifest(request: HttpRequest, user, found: FeedCollection) -> HttpResponseBase:
    # A second pull with nothing new is the common case: answer its If-None-Match from the
    # ETag last served for the same fingerprint (two aggregate queries) instead of rebuilding
    # a manifest of 100,000 events to hash it.
    key = f"misp-feed:manifest:{user.pk}:{found.key}:{content.fingerprint(found, user)}"
    known = cache.get(key)
    if known is not None and conditional.matches(request.headers.get("If-None-Match", ""), known):
        response = HttpResponseNotModified()
        response["ETag"], response["Cache-Control"] = known, "private, no-cache"
        response["Vary"] = "Authorization"
        return response
    chunks, latest = content.manifest(found, user)
    response = _file(request, chunks, JSON, latest)
    cache.set(key, response["ETag"], MANIFEST_ETAG_SECONDS)
    return response


@feed_view
def event(request: HttpRequest, user, found: FeedCollection, event_uuid: str) -> HttpResponseBase:
    result = content.event(found, user, event_uuid)
    if result is None:
        raise FeedError(404, _("No such event."))
    return _file(request, [result[0]], JSON, result[1])


@feed_view
def hashes(request: HttpRequest, user, found: FeedCollection) -> HttpResponseBase:
    return _file(request, list(content.hash_lines(found, user)) or [b""], CSV, None)
