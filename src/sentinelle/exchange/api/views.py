from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import parsers, serializers, status, viewsets
from rest_framework.exceptions import NotAuthenticated, ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response

from sentinelle.core import jobs
from sentinelle.core.api.errors import PayloadTooLarge
from sentinelle.core.api.fields import StrictBooleanField
from sentinelle.core.api.jobs import JobSerializer
from sentinelle.core.api.permissions import TokenScopePermission, role_permission
from sentinelle.core.roles import FOCAL_POINT
from sentinelle.exchange import formats, uploads
from sentinelle.exchange.exporting import EXPORTERS, export_response
from sentinelle.incidents.models import TLP, Category


class FormatField(serializers.ChoiceField):
    """`auto` or a format's name: an enum in the schema, and any other value (an empty one
    too) a 400 that lists the known ones."""

    def __init__(self, **kwargs):
        super().__init__(choices=["auto", *formats.FORMAT_MODULES], **kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str) or data not in self.choices:
            raise serializers.ValidationError(
                _("Unknown format “%(format)s”. Known: %(known)s.") % {
                    "format": data, "known": ", ".join(self.choices)})
        return data


class ImportSerializer(serializers.Serializer):
    file = serializers.FileField()
    format = FormatField(default="auto")
    tlp = serializers.ChoiceField(choices=TLP.choices, required=False)
    dry_run = StrictBooleanField(default=False)
    on_invalid = serializers.ChoiceField(
        choices=[("refuse", _("refuse the whole file")), ("skip", _("skip invalid items"))],
        default="refuse",
        help_text=_("refuse (default): one invalid item and nothing is written. skip: every "
                    "valid item is written; the job's result lists each rejected one with "
                    "its place and reason."))

    def to_internal_value(self, data):
        # A form sends a field left empty as "": DRF would take the default; the schema allows
        # no empty value, so it is refused by name, as a query parameter sent empty is.
        empty = {name: [_("Give a value, or leave the parameter out.")]
                 for name in ("format", "tlp", "dry_run", "on_invalid") if data.get(name) == ""}
        if empty:
            raise serializers.ValidationError(empty)
        return super().to_internal_value(data)

    def validate_file(self, upload):
        # Not a field error (400): the same 413 the middleware gives a larger declared body.
        if upload.size > uploads.import_limit():
            raise PayloadTooLarge(uploads.too_large_message(upload.size, uploads.import_limit()))
        return upload


class ImportViewSet(viewsets.ViewSet):
    """Start an import (all or nothing, or on_invalid=skip); follow it at /api/v1/jobs/{id}/."""

    parser_classes = [parsers.MultiPartParser]
    serializer_class = ImportSerializer
    permission_classes = [TokenScopePermission, role_permission(
        FOCAL_POINT, actions=("create",),
        message=gettext_lazy("Imports are made by a Member State's focal point."))]
    # Refused from its declared length, before authentication or parsing reads the body.
    upload_cap = uploads.UploadCap(uploads.import_limit, uploads.refuse_json)

    @extend_schema(request={"multipart/form-data": ImportSerializer},
                   responses={202: JobSerializer, 413: OpenApiResponse(
                       description="The file is larger than SENTINELLE_IMPORT_MAX_BYTES; "
                                   "nothing was stored.")})
    def create(self, request):
        data = ImportSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        params = {k: v for k, v in data.validated_data.items() if k != "file"}
        job = jobs.start("import", request.user, params, upload=data.validated_data["file"])
        return Response(JobSerializer(job, context={"request": request}).data,
                        status=status.HTTP_202_ACCEPTED)


class _FormatIsAnExportFormat(DefaultContentNegotiation):
    """DRF reads ``?format=`` as a renderer switch and answers 404 for ``stix``; here it names the
    export format (the documented call), so the renderer follows the Accept header alone."""

    settings = SimpleNamespace(URL_FORMAT_OVERRIDE=None)


_EXPORT_MEDIA = {json: sorted({media.split(";")[0] for _m, _f, media, _e in EXPORTERS.values()
                               if media.split(";")[0].endswith("json") == json})
                 for json in (True, False)}


class ExportViewSet(viewsets.ViewSet):
    """Download what you may see, in a CSIRT format."""

    content_negotiation_class = _FormatIsAnExportFormat

    @extend_schema(parameters=[
        OpenApiParameter("format", str, enum=sorted(EXPORTERS), required=True),
        OpenApiParameter("since", dt.date), OpenApiParameter("category", str, many=True)],
        # A token or a session: list() refuses an anonymous caller (401) itself.
        auth=[{"bearerAuth": []}, {"cookieAuth": []}],
        # Each format's own media type, as export_response answers it: a JSON document for
        # STIX and MISP, a file for the others.
        responses={(200, *_EXPORT_MEDIA[True]): OpenApiTypes.OBJECT,
                   (200, *_EXPORT_MEDIA[False]): bytes})
    def list(self, request):
        if not request.user.is_authenticated:
            raise NotAuthenticated()
        fmt = request.query_params.get("format", "")
        if fmt not in EXPORTERS:
            raise ValidationError({"format": [_("Give one of: %(known)s.") % {
                "known": ", ".join(sorted(EXPORTERS))}]})
        try:
            since = (dt.date.fromisoformat(request.query_params["since"])
                     if request.query_params.get("since") else None)
        except ValueError:
            raise ValidationError({"since": [_("Use YYYY-MM-DD.")]}) from None
        # Known codes only, as the report list's filter: an unknown one is a 400 naming it
        # (a NUL in one reached PostgreSQL, a 500 found by Schemathesis), not an empty export.
        categories = request.query_params.getlist("category")
        unknown = sorted(set(categories) - set(Category.objects.filter(
            code__in=[c for c in categories if "\x00" not in c]).values_list("code", flat=True)))
        if unknown:
            raise ValidationError({"category": [_("Unknown category “%(code)s”.") % {
                "code": code} for code in unknown]})
        return export_response(fmt, request.user, since=since, categories=categories)
