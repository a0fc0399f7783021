"""What every gateway entry shares: owning State, moderation state, language and translations.

Entries are written only by :mod:`sentinelle.gateway.services`; reads go through
``Model.objects.for_user(user)`` so that drafts never leak to the public or to other States.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.core.validators import MaxLengthValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

# The six official languages of ITU, whatever the UI currently offers: entries may be written in
# any of them before the interface is translated into it.
LANGUAGES = [
    ("ar", _("Arabic")),
    ("zh", _("Chinese")),
    ("en", _("English")),
    ("fr", _("French")),
    ("ru", _("Russian")),
    ("es", _("Spanish")),
]
LANGUAGE_CODES = frozenset(code for code, _label in LANGUAGES)

# Long texts are bounded so that one submission cannot fill the database or the search index.
TEXT_LIMIT = 10_000
long_text = [MaxLengthValidator(TEXT_LIMIT)]


class EntryStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted for review")
    CHANGES_REQUESTED = "changes-requested", _("Changes requested")
    PUBLISHED = "published", _("Published")
    UNPUBLISHED = "unpublished", _("Unpublished")


class EntryQuerySet(models.QuerySet):
    def published(self) -> EntryQuerySet:
        return self.filter(status=EntryStatus.PUBLISHED)

    def for_user(self, user) -> EntryQuerySet:
        """What ``user`` may read: the public sees published entries; a focal point also sees
        its own State's entries in any state; the Secretariat sees everything."""
        if user is not None and user.is_authenticated and user.is_secretariat:
            return self.all()
        if user is not None and user.is_authenticated and user.is_focal_point:
            return self.filter(Q(status=EntryStatus.PUBLISHED) | Q(state_id=user.state_id))
        return self.published()

    def editable_by(self, user) -> EntryQuerySet:
        if user is not None and user.is_authenticated and user.is_secretariat:
            return self.all()
        if user is not None and user.is_authenticated and user.is_focal_point:
            return self.filter(state_id=user.state_id)
        return self.none()


class GatewayEntry(models.Model):
    """Abstract base of the four content types."""

    # URL segment and labels; set by each concrete model.
    KIND: ClassVar[str] = ""
    TITLE_FIELD: ClassVar[str] = "title"
    # Text fields that may carry translations ({lang: {field: text}} in ``translations``).
    TRANSLATABLE: ClassVar[tuple[str, ...]] = ()

    state = models.ForeignKey("core.MemberState", verbose_name=_("Member State"),
                              on_delete=models.PROTECT, null=True, blank=True,
                              related_name="+",
                              help_text=_("The State the entry belongs to; empty for regional "
                                          "and international entries kept by the Secretariat."))
    language = models.CharField(_("language of the text"), max_length=5, choices=LANGUAGES,
                                default="en")
    translations = models.JSONField(_("translations"), default=dict, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=EntryStatus.choices,
                              default=EntryStatus.DRAFT, db_index=True)
    review_message = models.TextField(_("message from the Secretariat"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   related_name="+", null=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    reviewed_at = models.DateTimeField(_("last reviewed"), null=True, blank=True)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                    related_name="+", null=True, blank=True)
    published_at = models.DateTimeField(_("first published"), null=True, blank=True)

    objects = EntryQuerySet.as_manager()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return str(getattr(self, self.TITLE_FIELD))

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("gateway-detail", args=[self.KIND, self.pk])

    @property
    def title_text(self) -> str:
        return str(getattr(self, self.TITLE_FIELD))

    @property
    def is_published(self) -> bool:
        return self.status == EntryStatus.PUBLISHED

    def text(self, field: str, language: str) -> dict[str, Any]:
        """The text of ``field`` in ``language`` if the entry has it, else the original text
        with the language it is shown in (the page says so: "not yet translated")."""
        original = getattr(self, field)
        if language == self.language or field not in self.TRANSLATABLE:
            return {"text": original, "language": self.language, "fallback": False}
        translated = (self.translations.get(language) or {}).get(field)
        if translated:
            return {"text": translated, "language": language, "fallback": False}
        return {"text": original, "language": self.language, "fallback": bool(original)}

    def texts_by_language(self) -> dict[str, dict[str, str]]:
        """Every language the entry has text in -> {field: text} (for the search index)."""
        out = {self.language: {f: str(getattr(self, f) or "") for f in self.TRANSLATABLE}}
        for lang, fields in (self.translations or {}).items():
            if lang in LANGUAGE_CODES and lang != self.language:
                out[lang] = {f: str(fields.get(f) or "") for f in self.TRANSLATABLE}
        return out
