"""The live routing monitor over the REST API (INTERFACE.md part D):

* ``POST observatory/routing/events/`` — a State's monitor delivers one event (multipart field
  ``event`` = the JSON of ``AlertEvent.to_dict()``, optional ``bundle`` = a signed routing-scan
  bundle; or the event itself as an application/json body). 201 with the answer; the same
  idempotency key again: 200 and the first answer (header ``Idempotent-Replayed: true``); an
  event about another State: 403 ``{"code": "other-state"}``; a bad field: 400 naming it.
* ``GET observatory/routing/watch/`` — the State's watch list as YAML, for ``--watch``.
* ``GET observatory/routing/alerts/`` (and ``{id}/``) — the live alerts one may see.

Focal points write; everything read is scoped by ``for_user`` (another State's rows are 404).
"""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, parsers, serializers, status, viewsets
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.generics import get_object_or_404
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from sentinelle.core.api.authentication import (
    BearerTokenAuthentication,
    VerifiedSessionAuthentication,
)
from sentinelle.core.api.permissions import TokenScopePermission, role_permission
from sentinelle.core.roles import FOCAL_POINT
from sentinelle.incidents.models import Incident
from sentinelle.observatory import live
from sentinelle.observatory.live_validation import MAX_EVENT_BYTES, EventInvalid, parse_event
from sentinelle.observatory.models import LiveRoutingAlert, RoutingWatch


class TokenKeywordAuthentication(BearerTokenAuthentication):
    """``Authorization: Token <secret>``, as the monitor's platform destination sends it
    (INTERFACE.md); the same tokens as ``Bearer``."""

    keyword = "Token"


class TokenKeywordScheme(OpenApiAuthenticationExtension):
    """Documents the ``Token`` keyword (registered by being defined: this module is imported
    with the URLs, before the schema is generated)."""

    target_class = "sentinelle.observatory.api.routing.TokenKeywordAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "“Token <secret>”: the same tokens as bearerAuth."}


AUTHENTICATION = [BearerTokenAuthentication, TokenKeywordAuthentication,
                  VerifiedSessionAuthentication]

_ANSWER = inline_serializer("RoutingEventAnswer", fields={
    "event": serializers.CharField(), "idempotency_key": serializers.CharField(),
    "alert_id": serializers.CharField(),
    "alert_status": serializers.CharField(allow_null=True, help_text="raised or resolved"),
    "report": serializers.CharField(allow_null=True,
                                    help_text="Reference of the draft report the bundle made"),
    "report_id": serializers.IntegerField(allow_null=True),
    "evidence_added": serializers.IntegerField(),
})


class EventJSONParser(parsers.JSONParser):
    """The event as an application/json body, read by the same ``parse_event`` as the form
    field: the same 64 KiB limit (DRF's parser would take whatever Django's upload limit
    allows), no NaN/Infinity, and a nesting deep enough to exhaust the stack answers 400
    naming ``event`` (DRF's parser lets the RecursionError through: a 500)."""

    def parse(self, stream, media_type=None, parser_context=None):
        return parse_event(stream.read(MAX_EVENT_BYTES + 1) if stream is not None else b"")


class RoutingEventView(APIView):
    authentication_classes = AUTHENTICATION
    permission_classes = [IsAuthenticated, TokenScopePermission, role_permission(
        FOCAL_POINT, methods=("POST",),
        message=gettext_lazy("Only a Member State's focal point can deliver routing monitor "
                             "events."))]
    parser_classes = [parsers.MultiPartParser, EventJSONParser]

    @extend_schema(
        operation_id="observatory_routing_event", tags=["observatory"],
        summary="Deliver a live routing monitor event (focal points, write token)",
        description=(
            "multipart/form-data: `event` (the JSON of the event: event, alert_id, type, state, "
            "prefix, first_seen, ... as `sentinelle routing monitor` sends it) and, for "
            "raised/resolved, `bundle` (a signed routing-scan bundle holding that alert). "
            "A raised event's bundle makes a draft routing-disruption report; a resolved "
            "one's is attached to it while it is a draft. The same idempotency key again "
            "answers 200 with the first answer and changes nothing."),
        request={"multipart/form-data": inline_serializer("RoutingEvent", fields={
            "event": serializers.CharField(help_text="JSON object"),
            "bundle": serializers.FileField(required=False)})},
        responses={201: _ANSWER, 200: _ANSWER})
    def post(self, request: Request) -> Response:
        user = request.user
        try:
            data, bundle = self._event(request)
            created, answer = live.record_event(
                user, data, key=request.headers.get("Idempotency-Key", "").strip() or None,
                bundle=bundle)
        # Raised, not answered here: core/api/errors.py gives them the API's one error body.
        except EventInvalid as exc:
            raise ValidationError(exc.errors) from None
        except live.OtherState as exc:
            raise PermissionDenied(str(exc), code="other-state") from None
        except live.BundleInvalid as exc:
            raise ValidationError(exc.message_dict) from None
        if created:
            return Response(answer, status=status.HTTP_201_CREATED)
        return Response(answer, status=status.HTTP_200_OK,
                        headers={"Idempotent-Replayed": "true"})

    @staticmethod
    def _event(request: Request):
        try:
            if request.content_type.startswith("application/json"):
                if not isinstance(request.data, dict):
                    raise EventInvalid({"event": [_("Expected a JSON object.")]})
                return request.data, None
            files = request.FILES
            text = request.data.get("event")
            if text is None and "event" in files:   # sent as a part with a file name
                text = files["event"].read(MAX_EVENT_BYTES + 1)
            return parse_event(text), files.get("bundle")
        except RequestDataTooBig:
            raise EventInvalid({"event": [_("The request is too large.")]}) from None


def _requested_state(request) -> str:
    """The State asked for: ``?state=`` (the Secretariat), else the focal point's own."""
    code = (request.GET.get("state") or "").strip().upper()
    if not code and getattr(request.user, "is_focal_point", False):
        code = request.user.state.alpha2
    return code


_ASNS = {"type": "array", "items": {"type": "integer", "minimum": 0}}
# The YAML document, described as what a YAML reader gets from it (observatory/routing/
# watchlist.py's shape): a client or tester that parses the body checks it against this; "a
# string" was not what it parses to.
WATCH_LIST_SCHEMA = {
    "type": "object",
    "description": "A routing watch list (YAML): each State's ASNs and prefixes to watch.",
    "properties": {"states": {"type": "object", "additionalProperties": {
        "type": "object",
        "properties": {
            "name": {"type": "string"}, "asns": _ASNS, "neighbors": _ASNS,
            "prefixes": {"type": "array", "items": {"oneOf": [
                {"type": "string", "description": "a prefix: origins = the State's ASNs"},
                {"type": "object", "required": ["prefix"], "properties": {
                    "prefix": {"type": "string"}, "origins": _ASNS,
                    "max_length": {"type": "integer", "minimum": 0, "maximum": 128},
                    "neighbors": _ASNS, "note": {"type": "string"}}},
            ]}},
        }}}},
}


class RoutingWatchView(APIView):
    authentication_classes = AUTHENTICATION
    permission_classes = [IsAuthenticated, TokenScopePermission]
    extra_error_statuses = (404,)   # no watch list for that State (or one the caller may not see)

    @extend_schema(
        operation_id="observatory_routing_watch", tags=["observatory"],
        summary="A State's routing watch list (YAML), for `sentinelle routing monitor --watch`",
        parameters=[OpenApiParameter("state", OpenApiTypes.STR,
                                     description="ISO alpha-2 (the Secretariat); a focal "
                                                 "point gets its own State's")],
        responses={(200, "application/yaml"): WATCH_LIST_SCHEMA})
    def get(self, request: Request) -> HttpResponse:
        watch = get_object_or_404(RoutingWatch.objects.for_user(request.user).select_related(
            "state"), state__alpha2=_requested_state(request))
        response = HttpResponse(watch.yaml, content_type="application/yaml; charset=utf-8")
        response["Content-Disposition"] = (
            f'inline; filename="watch-{watch.state.alpha2.lower()}.yaml"')
        return response


class LiveAlertSerializer(serializers.ModelSerializer):
    state = serializers.CharField(source="state.alpha2", read_only=True)
    report = serializers.SerializerMethodField()

    class Meta:
        model = LiveRoutingAlert
        fields = ["id", "state", "alert_id", "type", "prefix", "watched_prefix",
                  "offending_asn", "status", "raised_at", "last_seen", "resolved_at",
                  "duration", "peers", "collectors", "tags", "muted", "report"]
        read_only_fields = fields

    def get_report(self, obj) -> str | None:
        """The draft report's reference, to those who may see that report."""
        request = self.context.get("request")
        if obj.incident_id is None or request is None:
            return None
        visible = Incident.objects.for_user(request.user).filter(pk=obj.incident_id)
        return obj.incident.reference if visible.exists() else None


class LiveAlertViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin,
                       viewsets.GenericViewSet):
    """Live routing alerts: a focal point's own State's, every State's for the Secretariat."""

    authentication_classes = AUTHENTICATION
    permission_classes = [IsAuthenticated, TokenScopePermission]
    serializer_class = LiveAlertSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return LiveRoutingAlert.objects.none()
        rows = LiveRoutingAlert.objects.for_user(self.request.user).select_related(
            "state", "incident")
        # A NUL never reaches here (core/querystring.py): PostgreSQL could not compare it.
        code = (self.request.query_params.get("state") or "").strip().upper()
        if code and self.action == "list":
            rows = rows.filter(state__alpha2=code)
        status_ = self.request.query_params.get("status") or ""
        if status_ and self.action == "list":
            rows = rows.filter(status=status_)
        return rows

    @extend_schema(parameters=[
        OpenApiParameter("state", OpenApiTypes.STR, description="ISO alpha-2"),
        OpenApiParameter("status", OpenApiTypes.STR, description="raised or resolved")])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)
