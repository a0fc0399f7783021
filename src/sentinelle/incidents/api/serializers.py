from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.relations import MANY_RELATION_KWARGS

from sentinelle.core.api.fields import (
    StrictBooleanField,
    StrictCharField,
    StrictFloatField,
    StrictIntegerField,
)
from sentinelle.core.limits import column_bounds
from sentinelle.core.models import User
from sentinelle.incidents import fields
from sentinelle.incidents.models import (
    TLP,
    Category,
    Channel,
    Evidence,
    Incident,
    IncidentVersion,
    Indicator,
    Message,
    RsitType,
    Severity,
    Status,
    SummaryLine,
    SummaryReturn,
    Transition,
)

# Far more than the Secretariat has analysts; a longer list is no one's report.
MAX_NAMED_ANALYSTS = 200


def _django_to_drf(func, value):
    try:
        return func(value)
    except DjangoValidationError as exc:
        raise serializers.ValidationError(exc.messages) from None


def _looked_up(field: serializers.Field, index: int, data):
    """What IncidentSerializer found for this field with the other one (fields.parse_taxonomy),
    if the value is the one it looked up."""
    found = getattr(field.parent, "_taxonomy", None)
    if found is not None and found[0][index] == data:
        return found[1][index]
    return None


@extend_schema_field(OpenApiTypes.STR)
class CategoryField(serializers.Field):
    def to_representation(self, value: Category) -> str:
        return value.code

    def to_internal_value(self, data) -> Category:
        found = _looked_up(self, 0, data)
        return found if found is not None else _django_to_drf(fields.parse_category, data)


@extend_schema_field(OpenApiTypes.STR)
class RsitField(serializers.Field):
    def to_representation(self, value: RsitType) -> str:
        return value.machine_tag

    def to_internal_value(self, data) -> RsitType:
        if not isinstance(data, str):
            raise serializers.ValidationError(_("Expected text such as “availability:ddos”."))
        found = _looked_up(self, 1, data)
        return found if found is not None else _django_to_drf(fields.parse_rsit, data)


@extend_schema_field(OpenApiTypes.STR)
class StateField(serializers.Field):
    def to_representation(self, value) -> str:
        return value.alpha2

    def to_internal_value(self, data):
        if not isinstance(data, str):
            raise serializers.ValidationError(_("Expected a two-letter ISO code."))
        return _django_to_drf(fields.parse_state, data)


class _AnalystList(serializers.ManyRelatedField):
    def to_internal_value(self, data):
        # DRF's takes any iterable but a string: a JSON object {} would read as no analysts.
        if not isinstance(data, list):
            self.fail("not_a_list", input_type=type(data).__name__)
        return super().to_internal_value(data)


class AnalystField(serializers.SlugRelatedField):
    """A named analyst by username. A NUL is refused here: PostgreSQL refuses it in a query
    parameter with a DataError (a 500), which DRF's lookup does not catch."""

    @classmethod
    def many_init(cls, *args, **kwargs):
        # DRF's own, with the list that takes lists only.
        list_kwargs = {"child_relation": cls(*args, **kwargs)}
        list_kwargs.update({k: v for k, v in kwargs.items() if k in MANY_RELATION_KWARGS})
        return _AnalystList(**list_kwargs)

    def to_internal_value(self, data):
        if isinstance(data, str) and "\x00" in data:
            self.fail("does_not_exist", slug_name=self.slug_field,
                      value=data.replace("\x00", "\ufffd"))
        return super().to_internal_value(data)


class IndicatorSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=Indicator.Type.choices)
    value = StrictCharField(max_length=2048, trim_whitespace=True)


class IncidentListSerializer(serializers.ListSerializer):
    """A page of reports: which of them are linked is asked once for the page, not per row
    (most reports are not linked, and a row that is not needs no query at all)."""

    def to_representation(self, data):
        from sentinelle.analysis import linking  # the analysis app builds on incidents

        items = list(data.all() if hasattr(data, "all") else data)
        self._context["linked_ids"] = linking.linked_ids([item.pk for item in items])
        return super().to_representation(items)


class IncidentSerializer(serializers.Serializer):
    """The report contract other tools rely on (README, "REST API")."""

    class Meta:
        list_serializer_class = IncidentListSerializer

    id = serializers.IntegerField(read_only=True)
    reference = serializers.CharField(read_only=True)
    state = serializers.CharField(source="state.alpha2", read_only=True)
    status = serializers.CharField(read_only=True)
    version = serializers.IntegerField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)
    # Null while the report is a draft (submit=false).
    submitted_at = serializers.DateTimeField(read_only=True, allow_null=True)
    channel = serializers.ChoiceField(choices=Channel.choices, read_only=True, help_text=_(
        "How the report arrived: web, api, import, federation, observatory, or unknown for "
        "reports filed before it was recorded."))

    title = StrictCharField(max_length=200, validators=[fields.validate_single_line])
    category = CategoryField()
    rsit = RsitField(source="rsit_type")
    tlp = serializers.ChoiceField(choices=TLP.choices)
    severity = serializers.ChoiceField(choices=Severity.choices, default=Severity.MEDIUM)
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(required=False, allow_null=True)
    detected_at = serializers.DateTimeField(required=False, allow_null=True)
    description = StrictCharField(max_length=100_000)
    narrative_language = StrictCharField(max_length=10, default="en")
    affected_services = serializers.ListField(child=StrictCharField(max_length=200),
                                              required=False, default=list,
                                              max_length=fields.MAX_SERVICES)
    users_affected = StrictIntegerField(required=False, allow_null=True,
                                              **column_bounds(Incident, "users_affected"))
    # Null until the report has an end (and users affected): the schema must say so.
    duration_hours = serializers.FloatField(read_only=True, allow_null=True)
    user_hours = serializers.FloatField(read_only=True, allow_null=True)
    alleged_origin_state = StateField(required=False, allow_null=True)
    consent_to_name = StrictBooleanField(default=False)
    indicators = IndicatorSerializer(many=True, required=False, default=list,
                                     max_length=fields.MAX_INDICATORS)
    named_analysts = AnalystField(
        slug_field="username", many=True, required=False,
        queryset=User.objects.filter(role__in=("analyst", "admin"), is_active=True))
    submit = StrictBooleanField(default=True, write_only=True, help_text=_(
        "Submit at once (default) or keep as a draft."))
    note = StrictCharField(max_length=500, required=False, default="", write_only=True,
                                 help_text=_("Reason for an amendment."))

    linked_incident = serializers.SerializerMethodField(help_text=_(
        "The linked incident this report belongs to (reports of several States about one "
        "incident, counted once), as the reader may see it; null if none or not shown."))

    @extend_schema_field({"type": "object", "additionalProperties": {}, "nullable": True})
    def get_linked_incident(self, instance: Incident) -> dict | None:
        linked = self.context.get("linked_ids")
        if linked is not None and instance.pk not in linked:
            return None
        request = self.context.get("request")
        return linked_incident_data(getattr(request, "user", None), instance)

    def to_internal_value(self, data):
        # The category and the RSIT type in one query rather than one each (issue 17); the
        # fields fall back to their own lookup (and its error) when it finds nothing.
        self._taxonomy = None
        # Each name is one query (DRF's SlugRelatedField): a 5 MB list would be 100,000 of
        # them, so the length is checked before any is looked up.
        analysts = (data.getlist("named_analysts") if hasattr(data, "getlist")
                    else data.get("named_analysts") if hasattr(data, "get") else None)
        if isinstance(analysts, list) and len(analysts) > MAX_NAMED_ANALYSTS:
            raise serializers.ValidationError({"named_analysts": [
                _("At most %(n)s named analysts.") % {"n": MAX_NAMED_ANALYSTS}]})
        if hasattr(data, "get"):
            given = (data.get("category"), data.get("rsit"))
            found = fields.parse_taxonomy(*given)
            if found is not None:
                self._taxonomy = (given, found)
        try:
            return super().to_internal_value(data)
        finally:
            self._taxonomy = None

    def validate_indicators(self, items):
        # A PATCH is partial for DRF down to each indicator, so {"type": "ipv4"} got here
        # without its value (a 500); an indicator is whole or refused.
        if any("type" not in item or "value" not in item for item in items):
            raise serializers.ValidationError(_("Give each indicator a type and a value."))
        pairs = [(item["type"], item["value"]) for item in items]
        return _django_to_drf(lambda p: fields.parse_indicators(p, label=_("indicator")), pairs)

    def validate_affected_services(self, items):
        return fields.parse_services(items)

    def to_representation(self, instance: Incident):
        # Field by field as the fields above would give it, without their per-field cost
        # (rows.py; the list builds its rows from .values() through the same function).
        from sentinelle.incidents.api import rows

        given = getattr(instance, "api_content", None)   # set by the view on a new report
        if given is not None:
            indicators, analysts = given
        else:
            prefetched = getattr(instance, "latest", None)  # IncidentViewSet.get_queryset
            if prefetched is not None:
                found = [i for version in prefetched for i in version.indicators.all()]
            else:
                found = Indicator.objects.filter(incident=instance,
                                                 version__number=instance.version).order_by("id")
            indicators = [(i.type, i.value) for i in found]
            analysts = instance.named_analysts.all()
        linked = self.context.get("linked_ids")
        request = self.context.get("request")
        return rows.from_instance(
            instance, getattr(request, "user", None), indicators=indicators, analysts=analysts,
            linked=False if linked is not None and instance.pk not in linked else None)


class VersionSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username")
    content_sha256 = serializers.SerializerMethodField(
        help_text="SHA-256 of the content's canonical JSON, as a submission receipt states it.")

    class Meta:
        model = IncidentVersion
        fields = ["number", "author", "created_at", "note", "content", "content_sha256"]

    def get_content_sha256(self, version: IncidentVersion) -> str:
        from sentinelle.incidents.receipts import content_sha256

        return content_sha256(version.content)


class TransitionSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username", read_only=True)
    from_status = serializers.CharField(read_only=True)
    to = serializers.ChoiceField(source="to_status", choices=Status.choices)
    note = StrictCharField(required=False, allow_blank=True, default="", max_length=10_000)
    duplicate_of = StrictIntegerField(required=False, write_only=True,
                                            **column_bounds(Incident, "id"))

    class Meta:
        model = Transition
        fields = ["from_status", "to", "actor", "at", "note", "duplicate_of"]
        read_only_fields = ["at"]


class MessageFileSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    filename = serializers.CharField()
    size = serializers.IntegerField()
    sha256 = serializers.CharField()
    download = serializers.CharField()


class MessageSerializer(serializers.ModelSerializer):
    # The body is text: a JSON number is refused, not stored as its digits.
    serializer_field_mapping = {**serializers.ModelSerializer.serializer_field_mapping,
                                models.TextField: StrictCharField}
    author = serializers.CharField(source="author.username", read_only=True)
    files = serializers.SerializerMethodField(
        help_text="Files sent with the message (evidence of the report) the caller may see.")

    class Meta:
        model = Message
        # tlp: the report's TLP when the message was written, by which it is shown.
        fields = ["id", "kind", "author", "body", "created_at", "tlp", "files"]
        read_only_fields = ["id", "kind", "created_at", "tlp"]
        # As the web form (MessageForm): the body is quoted in e-mails and shown in the thread.
        extra_kwargs = {"body": {"max_length": 20_000}}

    @extend_schema_field(MessageFileSerializer(many=True))
    def get_files(self, message: Message) -> list[dict]:
        # The view passes the visible files by message id: the table decides, not this field.
        request = self.context.get("request")
        return [{"id": item.pk, "filename": item.filename, "size": item.size,
                 "sha256": item.sha256,
                 "download": request.build_absolute_uri(f"/api/v1/evidence/{item.pk}/download/")
                 if request else f"/api/v1/evidence/{item.pk}/download/"}
                for item in self.context.get("files", {}).get(message.pk, [])]


class EvidenceSerializer(serializers.ModelSerializer):
    # The description is text, its length counted as sent (core/api/fields.py).
    serializer_field_mapping = {**serializers.ModelSerializer.serializer_field_mapping,
                                models.CharField: StrictCharField}
    uploaded_by = serializers.CharField(source="uploaded_by.username", read_only=True)
    download = serializers.SerializerMethodField()
    file = serializers.FileField(write_only=True)

    class Meta:
        model = Evidence
        # tlp: the report's TLP when the file was attached, by which it is shown.
        fields = ["id", "filename", "size", "sha256", "content_type", "description",
                  "uploaded_by", "uploaded_at", "tlp", "download", "file"]
        read_only_fields = ["filename", "size", "sha256", "content_type", "uploaded_at", "tlp"]

    def get_download(self, obj) -> str:
        request = self.context.get("request")
        path = f"/api/v1/evidence/{obj.pk}/download/"
        return request.build_absolute_uri(path) if request else path


class SummaryLineSerializer(serializers.Serializer):
    category = CategoryField()
    rsit_class = serializers.CharField()
    incidents = StrictIntegerField(min_value=0, max_value=min(
        10_000_000, column_bounds(SummaryLine, "incidents")["max_value"]))
    user_hours = StrictFloatField(min_value=0, default=0)


class SummaryReturnSerializer(serializers.ModelSerializer):
    state = serializers.CharField(source="state.alpha2", read_only=True)
    submitted_by = serializers.CharField(source="submitted_by.username", read_only=True)
    lines = serializers.SerializerMethodField()

    class Meta:
        model = SummaryReturn
        fields = ["id", "state", "year", "version", "submitted_by", "submitted_at", "notes",
                  "lines"]

    def get_lines(self, obj) -> list[dict]:
        return [{"category": line.category.code, "rsit_class": line.rsit_class.code,
                 "incidents": line.incidents, "user_hours": line.user_hours}
                for line in obj.lines.all()]


class SummaryReturnInputSerializer(serializers.Serializer):
    year = StrictIntegerField(min_value=2000, max_value=2100)
    notes = StrictCharField(required=False, allow_blank=True, default="", max_length=10_000)
    lines = SummaryLineSerializer(many=True, min_length=1, max_length=1000)


def linked_incident_data(user, incident: Incident) -> dict | None:
    """The report's linked incident as ``user`` may see it (``analysis.linking.view_for``):
    the references of the members it may see and the number of the others; None if the report
    is not linked or the reader may not know it (a focal point, on another State's report)."""
    from sentinelle.analysis import linking  # the analysis app builds on incidents, not back

    view = linking.view_for(user, incident)
    if view is None:
        return None
    # The name is the Secretariat's words (it may name the other States): analysts only.
    return {"id": view.cluster.pk if view.can_edit else None,
            "label": view.cluster.label if view.can_edit else None,
            "reports": [m.reference for m in view.members], "other_reports": view.others,
            "size": view.size}
