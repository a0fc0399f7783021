"""Atom feeds, one per content type, of published entries (most recently reviewed first)."""

from __future__ import annotations

from django.contrib.syndication.views import Feed
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed
from django.utils.translation import gettext as _

from sentinelle.gateway.kinds import model_for
from sentinelle.gateway.models import GatewayEntry

FEED_SIZE = 50


class KindFeed(Feed):
    feed_type = Atom1Feed

    def get_object(self, request, kind: str):
        return model_for(kind)

    def title(self, model) -> str:
        return _("Cybersecurity gateway: %(kind)s") % {"kind": model._meta.verbose_name_plural}

    def link(self, model) -> str:
        return reverse("gateway-list", args=[model.KIND])

    def subtitle(self, model) -> str:
        return _("Entries published on the ITU cybersecurity gateway.")

    def items(self, model):
        return (model.objects.published().select_related("state")
                .order_by("-reviewed_at", "-pk")[:FEED_SIZE])

    def item_title(self, item: GatewayEntry) -> str:
        return item.title_text

    def item_description(self, item: GatewayEntry) -> str:
        # Plain text: the feed generator escapes it, so no markup from an entry is run.
        field = next((f for f in item.TRANSLATABLE if f != item.TITLE_FIELD), None)
        return str(getattr(item, field, "") or "")[:500] if field else ""

    def item_pubdate(self, item: GatewayEntry):
        return item.published_at

    def item_updateddate(self, item: GatewayEntry):
        return item.reviewed_at

    def item_categories(self, item: GatewayEntry):
        return [item.state.alpha2] if item.state_id else []
