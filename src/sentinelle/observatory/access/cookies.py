"""A cookie jar for one measurement: Set-Cookie on a redirect is sent on the next hop.

Sites (and CDNs in front of them) set a cookie on a 302 and refuse the follow-up without it; a
client without cookies sees a refusal a browser never sees. The jar lives for one measurement
(one URL and its redirects), so nothing leaks between URLs or between runs.

The rules are RFC 6265's, as browsers apply them, kept small: host-only cookies unless a
``Domain`` attribute that domain-matches the host (never a bare top-level label or an IP
address given as a domain), the default path from the request URL, ``Path`` prefix matching,
``Secure`` only over https (and only set from https), ``Max-Age`` before ``Expires``, a cookie
expired on arrival deletes the stored one. Bounded: 4096 bytes a cookie, 50 cookies a jar.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import SplitResult

__all__ = ["CookieJar", "MAX_COOKIES", "MAX_COOKIE_SIZE"]

MAX_COOKIES = 50
MAX_COOKIE_SIZE = 4096


@dataclass
class _Cookie:
    name: str
    value: str
    domain: str
    host_only: bool
    path: str
    secure: bool
    expires: float | None


class CookieJar:
    def __init__(self, clock=time.time) -> None:
        self.cookies: list[_Cookie] = []
        self.clock = clock

    def store(self, parts: SplitResult, headers: list) -> list[str]:
        """Keep the Set-Cookie headers of a response to ``parts``; returns the names kept."""
        kept = []
        for name, value in headers:
            if str(name).lower() == "set-cookie":
                cookie = self._parse(parts, str(value))
                if cookie is not None:
                    kept.append(cookie.name)
        return kept

    def header(self, parts: SplitResult) -> str | None:
        """The Cookie header value for a request to ``parts`` (None: no cookie applies)."""
        now = self.clock()
        self.cookies = [c for c in self.cookies if c.expires is None or c.expires > now]
        host = (parts.hostname or "").lower()
        path = parts.path or "/"
        chosen = [c for c in self.cookies
                  if (c.domain == host if c.host_only else _domain_match(host, c.domain))
                  and _path_match(path, c.path)
                  and (parts.scheme == "https" or not c.secure)]
        chosen.sort(key=lambda c: -len(c.path))        # longer paths first (RFC 6265 5.4)
        return "; ".join(f"{c.name}={c.value}" for c in chosen) or None

    def _parse(self, parts: SplitResult, text: str) -> _Cookie | None:
        if len(text) > MAX_COOKIE_SIZE:
            return None
        pair, *attributes = text.split(";")
        name, sep, value = pair.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or any(ch in name + value for ch in "\r\n\x00"):
            return None
        host = (parts.hostname or "").lower()
        domain, host_only, path, secure, expires = host, True, _default_path(parts.path), \
            False, None
        max_age: float | None = None
        for attribute in attributes:
            key, _, val = attribute.partition("=")
            key, val = key.strip().lower(), val.strip()
            if key == "domain" and val:
                wanted = val.lstrip(".").lower()
                if not _domain_match(host, wanted) or "." not in wanted or _is_ip(wanted) \
                        and wanted != host:
                    return None                 # a cookie for someone else's domain
                domain, host_only = wanted, wanted == host and _is_ip(host)
            elif key == "path" and val.startswith("/"):
                path = val
            elif key == "secure":
                secure = True
            elif key == "max-age":
                try:
                    max_age = float(int(val))
                except ValueError:
                    continue
            elif key == "expires" and val:
                try:
                    expires = parsedate_to_datetime(val).timestamp()
                except (TypeError, ValueError, IndexError, OverflowError):
                    continue
        if secure and parts.scheme != "https":
            return None
        if max_age is not None:
            expires = self.clock() + max_age
        cookie = _Cookie(name, value, domain, host_only, path, secure, expires)
        self.cookies = [c for c in self.cookies
                        if (c.name, c.domain, c.path) != (name, domain, path)]
        if expires is not None and expires <= self.clock():
            return None                         # expired on arrival: a deletion
        if len(self.cookies) >= MAX_COOKIES:
            self.cookies.pop(0)
        self.cookies.append(cookie)
        return cookie


def _default_path(path: str) -> str:
    if not path.startswith("/") or path.count("/") == 1:
        return "/"
    return path[:path.rindex("/")]


def _path_match(request: str, cookie: str) -> bool:
    if request == cookie:
        return True
    return request.startswith(cookie) and (cookie.endswith("/") or request[len(cookie)] == "/")


def _domain_match(host: str, domain: str) -> bool:
    if host == domain:
        return True
    return host.endswith("." + domain) and not _is_ip(host)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True
