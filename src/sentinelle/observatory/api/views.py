"""The observatory over the REST API: submit an evidence bundle (a job, as the web upload), the
submissions one may see with their rows, and the access-denial index.

Every read goes through ``for_user`` (outsiders get 404), and the index is computed for the
caller exactly as the page and the CSV are."""

from __future__ import annotations

from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, parsers, serializers, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from sentinelle.core import jobs
from sentinelle.core.api.jobs import JobSerializer
from sentinelle.core.api.permissions import TokenScopePermission, role_permission
from sentinelle.core.api.schema import comma_list_pattern
from sentinelle.core.models import MemberState
from sentinelle.core.roles import FOCAL_POINT
from sentinelle.observatory.access_index import DIMENSIONS, IndexFilter, compute_index
from sentinelle.observatory.api import serializers as s
from sentinelle.observatory.forms import SERVICE_MAX_LENGTH, IndexFilterForm
from sentinelle.observatory.models import BundleSubmission
from sentinelle.observatory.tasks import KIND

# The figures of an index row; a suppressed row reads "<k" for the counts (as the CSV does)
# and null for the index.
_COUNTS = ("measurements", "conclusive", "denied", "reports")


class SubmissionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin,
                        viewsets.GenericViewSet):
    """Evidence bundles submitted by Member States, and the draft reports they made.

    A focal point lists its own State's submissions; the Secretariat lists those of the reports
    it may see. A submission whose report the caller may not see is 404."""

    permission_classes = [IsAuthenticated, TokenScopePermission, role_permission(
        FOCAL_POINT, actions=("create",),
        message=gettext_lazy("Only a Member State's focal point can submit evidence bundles."))]
    parser_classes = [parsers.MultiPartParser]
    serializer_class = s.SubmissionSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):   # drf-spectacular's schema pass
            return BundleSubmission.objects.none()
        user = self.request.user
        visible = BundleSubmission.objects.for_user(user).select_related(
            "incident", "state", "submitted_by")
        if self.action == "list" and user.is_focal_point:
            visible = visible.filter(state_id=user.state_id)
        return visible

    def get_serializer_class(self):
        if self.action == "retrieve":
            return s.SubmissionDetailSerializer
        if self.action == "create":
            return s.SubmitSerializer
        return s.SubmissionSerializer

    @extend_schema(
        summary="Submit an evidence bundle (focal points, write token)",
        description=(
            "Starts a job that verifies the bundle's hashes and signature and makes a draft "
            "report of the caller's State, as the web upload does; follow it at "
            "/api/v1/jobs/{id}/ (its result names the report). A refused bundle fails the job "
            "with the verifier's findings, and nothing is written."),
        request={"multipart/form-data": s.SubmitSerializer},
        responses={202: JobSerializer})
    def create(self, request):
        data = s.SubmitSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        # The language travels with the job: a worker process has none of its own.
        job = jobs.start(KIND, request.user, {"expect": data.validated_data["expect"],
                                              "language": get_language()},
                         upload=data.validated_data["file"])
        return Response(JobSerializer(job, context={"request": request}).data,
                        status=status.HTTP_202_ACCEPTED)


_INDEX_ROW = inline_serializer("AccessIndexRow", fields={
    "state": serializers.CharField(required=False, help_text="ISO alpha-2 (when grouped by "
                                                             "state)"),
    "state_name": serializers.CharField(required=False),
    "service": serializers.CharField(required=False, help_text="Service host"),
    "month": serializers.CharField(required=False, help_text="YYYY-MM"),
    "index": serializers.FloatField(allow_null=True,
                                    help_text="denied / conclusive, 0..1; null without a "
                                              "conclusive measurement or when suppressed"),
    "denied": serializers.JSONField(help_text="Integer, or \"<k\" when suppressed"),
    "conclusive": serializers.JSONField(help_text="Integer, or \"<k\" when suppressed"),
    "measurements": serializers.JSONField(help_text="Integer, or \"<k\" when suppressed"),
    "reports": serializers.JSONField(help_text="Integer, or \"<k\" when suppressed"),
    "suppressed": serializers.BooleanField(),
})
_INDEX = inline_serializer("AccessIndex", fields={
    "filter": serializers.DictField(),
    "by": serializers.ListField(child=serializers.CharField()),
    "rows": _INDEX_ROW.__class__(many=True),
    "suppressed": serializers.BooleanField(),
    "full_view": serializers.BooleanField(),
    "small_count_threshold": serializers.IntegerField(),
})


def _row(row: dict, threshold: int) -> dict:
    if not row.get("suppressed"):
        return row
    return {**row, **{key: f"<{threshold}" for key in _COUNTS}, "index": None}


class AccessIndexView(APIView):
    permission_classes = [IsAuthenticated, TokenScopePermission]

    @extend_schema(
        operation_id="observatory_access_index", tags=["observatory"],
        responses={200: _INDEX},
        summary="Access-denial index (denied / conclusive measurements)",
        description=(
            "For each affected State, service host and month — or the coarser grouping `by` "
            "asks for — the share of conclusive measurements (verdict other than inconclusive "
            "and challenged, a bot check that a browser passes) "
            "that were denied, over the probe results of submitted reports the caller may see. "
            "The same figures as /observatory/index.csv: outside the Secretariat, a row of "
            "another State built on fewer conclusive measurements than the small-count "
            "threshold is suppressed (its counts read \"<k\", its index is null)."),
        parameters=[
            # The bounds IndexFilterForm keeps (observatory/forms.py): outside them, 400.
            OpenApiParameter("year", {"type": "integer", "minimum": 1990, "maximum": 2100},
                             description="Calendar year of the measurements (all years if "
                                         "omitted)"),
            OpenApiParameter("state", OpenApiTypes.STR,
                             description="ISO alpha-2 code of the affected State"),
            OpenApiParameter("service", {"type": "string", "maxLength": SERVICE_MAX_LENGTH},
                             description="Service host"),
            OpenApiParameter("by", {"type": "string", "pattern": comma_list_pattern(DIMENSIONS)},
                             description="Grouping, comma-separated, any of state,service,month "
                                         "(default: all three)"),
        ])
    def get(self, request: Request) -> Response:
        # Any Member State may be asked for (the answer holds only what the reader may see);
        # the web page's select offers only the States with measurements the reader may see.
        form = IndexFilterForm(request.query_params, states=MemberState.objects.all())
        if not form.is_valid():
            raise ValidationError({field: [str(e) for e in errors]
                                   for field, errors in form.errors.items()})
        wanted = [g.strip() for g in request.query_params.get("by", "").split(",") if g.strip()]
        if any(g not in DIMENSIONS for g in wanted):
            raise ValidationError({"by": [_("Give one of: %(known)s.") % {
                "known": ", ".join(DIMENSIONS)}]})
        group_by = tuple(dict.fromkeys(wanted)) or DIMENSIONS
        data = form.cleaned_data
        flt = IndexFilter(year=data.get("year"),
                          states=(data["state"].upper(),) if data.get("state") else (),
                          services=(data["service"].strip(),) if data.get("service") else ())
        index = compute_index(flt, request.user, group_by=group_by)
        return Response({
            "filter": {"year": flt.year, "state": flt.states[0] if flt.states else None,
                       "service": flt.services[0] if flt.services else None},
            "by": list(index.group_by),
            "rows": [_row(row, index.threshold) for row in index.rows],
            "suppressed": index.suppressed, "full_view": index.full_view,
            "small_count_threshold": index.threshold,
        })
