"""The header's main menu: the pages grouped by purpose, each shown only to the roles that may
use it (issue 12, point 18). Twelve links in a row wrapped to two lines on a laptop and filled a
phone's first screen; grouped, the header stays on one line and a phone shows a menu button."""

from __future__ import annotations

from dataclasses import dataclass, field

from django import template
from django.urls import reverse
from django.utils.translation import gettext as _

register = template.Library()


@dataclass(frozen=True)
class MenuItem:
    label: str
    url: str
    current: bool = False


@dataclass
class MenuGroup:
    """A dropdown; a group left with one item is shown as a plain link (``single``)."""

    label: str
    items: list[MenuItem] = field(default_factory=list)

    @property
    def current(self) -> bool:
        return any(item.current for item in self.items)

    @property
    def single(self) -> MenuItem | None:
        return self.items[0] if len(self.items) == 1 else None


def _groups(user) -> list[tuple[str, list[tuple[str, str, bool]]]]:
    """(group label, [(item label, url name, shown)]) in the order of the header."""
    signed_in = user is not None and user.is_authenticated
    member = signed_in and not user.is_council  # focal points and the Secretariat
    return [
        (_("Reports"), [(_("Reports"), "incident-list", True),
                        (_("Secretariat queue"), "analysis-queue",
                         signed_in and user.is_secretariat),
                        (_("Summary returns"), "summary-list", member),
                        (_("Council reports"), "reports", signed_in)]),
        (_("Analysis"), [(_("Analysis"), "analysis", True),
                         (_("Action plan"), "actionplan", signed_in)]),
        (_("Observatory"), [(_("Submissions"), "observatory", signed_in),
                            (_("Access-denial index"), "observatory-index", signed_in),
                            # A State's own operational data: its focal points, the Secretariat.
                            (_("Routing monitor"), "observatory-routing", member)]),
        (_("Exchange"), [(_("Exchange"), "exchange", member),
                         (_("Gateway"), "gateway", True),
                         (_("API"), "api-docs", True),
                         (_("API tokens"), "tokens", member)]),
        (_("Administration"), [(_("Administration"), "admin:index",
                                signed_in and user.role == "admin")]),
    ]


@register.simple_tag(takes_context=True)
def main_menu(context) -> list[MenuGroup]:
    """The groups the signed-in (or anonymous) user sees; the item of the current page, the
    longest URL that prefixes the path, is marked so that the header can say where one is."""
    request = context.get("request")
    user = context.get("user") or getattr(request, "user", None)
    path = request.path if request is not None else ""
    shown = [(label, [(text, reverse(name)) for text, name, visible in items if visible])
             for label, items in _groups(user)]
    prefixes = [url for _label, items in shown for _text, url in items
                if path == url or (url != "/" and path.startswith(url))]
    here = max(prefixes, key=len, default=None)
    return [MenuGroup(label, [MenuItem(text, url, url == here) for text, url in items])
            for label, items in shown if items]
