"""Form bodies (application/x-www-form-urlencoded) decoded without the standard library's
memory blow-up: ``urllib.parse.unquote`` splits a value at every ``%`` before joining it, so a
5 MB body of escapes (``%5B%5B...``, within DATA_UPLOAD_MAX_MEMORY_SIZE) held over 400 MiB
while Django parsed it (issue 20: the http_forms fuzz's out-of-memory). The same fields and
values as Django's ``QueryDict`` (same limits, same replacement of invalid UTF-8), each value
decoded in slices of at most ``CHUNK`` characters."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import unquote

from django.conf import settings
from django.core.exceptions import TooManyFieldsSent
from django.http import HttpRequest, HttpResponse, QueryDict
from django.utils.datastructures import MultiValueDict

CHUNK = 16 * 1024
# Where a slice may end: not inside an escape (no "%" or "%H" just before), and before a
# literal character, a lone "%", or an escape of an ASCII byte or of a byte that starts a
# UTF-8 character: a multi-byte character is never cut, so the slices decode as the whole.
_CUT = re.compile(r"(?<!%)(?<!%[0-9A-Fa-f])"
                  r"(?:[^%]|%(?![0-9A-Fa-f]{2})|%[0-7][0-9A-Fa-f]|%[C-Fc-f][0-9A-Fa-f])")


def _unquote(text: str) -> str:
    if len(text) <= CHUNK:
        return unquote(text, errors="replace")
    parts, start = [], 0
    while start < len(text):
        end = start + CHUNK
        if end < len(text):
            cut = _CUT.search(text, end)
            end = cut.start() if cut else len(text)
        parts.append(unquote(text[start:end], errors="replace"))
        start = end
    return "".join(parts)


def parse(body: bytes) -> QueryDict:
    """The body as Django's ``QueryDict(body, encoding="utf-8")`` reads it."""
    try:
        text = body.decode()
    except UnicodeDecodeError:
        text = body.decode("iso-8859-1")   # as Django: some user agents send Latin-1
    limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
    if limit is not None and text.count("&") + 1 > limit:
        raise TooManyFieldsSent("The number of GET/POST parameters exceeded "
                                "settings.DATA_UPLOAD_MAX_NUMBER_FIELDS.")
    result = QueryDict(mutable=True)
    for pair in text.split("&"):
        if not pair:
            continue
        name, _sep, value = pair.partition("=")
        result.appendlist(_unquote(name.replace("+", " ")), _unquote(value.replace("+", " ")))
    result._mutable = False
    return result


class FormBodyMiddleware:
    """Decodes a form POST's body before anything reads ``request.POST`` (the CSRF check)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (request.method == "POST" and request.content_type == "application/x-www-form-urlencoded"
                and (request.encoding or "utf-8").lower() == "utf-8"
                and not hasattr(request, "_post")):
            # request.body refuses a body over DATA_UPLOAD_MAX_MEMORY_SIZE (400), as Django.
            request._post = parse(request.body)
            request._files = MultiValueDict()
        return self.get_response(request)
