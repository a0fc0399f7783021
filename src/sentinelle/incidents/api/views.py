from __future__ import annotations

from django.conf import settings
from django.db.models import F, Prefetch
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, parsers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import get_object_or_404  # DRF's: "null,null" is a 404, not 500
from rest_framework.response import Response

from sentinelle.core.api.parsers import JSONParser
from sentinelle.core.api.permissions import TokenScopePermission, role_permission
from sentinelle.core.roles import FOCAL_POINT, SECRETARIAT
from sentinelle.exchange import uploads
from sentinelle.incidents import services, summaries
from sentinelle.incidents.api import rows
from sentinelle.incidents.api import serializers as s
from sentinelle.incidents.downloads import evidence_response
from sentinelle.incidents.filters import IncidentFilter
from sentinelle.incidents.models import (
    Category,
    Channel,
    Evidence,
    Incident,
    IncidentVersion,
    Indicator,
    RsitType,
    SummaryReturn,
)
from sentinelle.incidents.permissions import (
    evidence_for_user,
    message_files_for_user,
    thread_for_user,
    transitions_for_user,
    versions_for_user,
)

# A report's sub-resources (versions, transitions, messages, evidence): whole arrays.
SUB_LIST = {"pagination_class": None, "filter_backends": []}


class IncidentViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                      mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """Incident reports. Reads are scoped to what the caller may see; a PATCH adds a version."""

    serializer_class = s.IncidentSerializer
    filterset_class = IncidentFilter
    # Only a focal point reports; the Secretariat and the reporting State act on a report.
    # Another role gets 403 before anything is read (core/roles.py).
    permission_classes = [
        TokenScopePermission,
        role_permission(FOCAL_POINT, actions=("create",),
                        message=gettext_lazy("Only a Member State's focal point can report "
                                             "incidents.")),
        role_permission(FOCAL_POINT, SECRETARIAT, methods=("POST", "PATCH", "PUT")),
    ]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        # Only the latest version's indicators, without the versions' JSON content.
        latest = (IncidentVersion.objects.filter(number=F("incident__version")).defer("content")
                  .prefetch_related(Prefetch("indicators",
                                             queryset=Indicator.objects.order_by("id"))))
        return (Incident.objects.for_user(self.request.user)
                .select_related("state", "category", "rsit_type__rsit_class",
                                "alleged_origin_state")
                .prefetch_related("named_analysts",
                                  Prefetch("versions", queryset=latest, to_attr="latest")))

    def filter_queryset(self, queryset):
        # With none of its parameters given every filter is empty and the filterset returns
        # the queryset as it is; building it (a form, copies of its fields) is most of the cost
        # of a page's set-up.
        params = self.request.query_params
        if not any(name in params for name in IncidentFilter.base_filters):
            return queryset
        return super().filter_queryset(queryset)

    def list(self, request, *args, **kwargs):
        # The rows straight from .values() (api/rows.py): the same JSON as IncidentSerializer
        # gives, without a model instance or a DRF field call per value.
        queryset = self.filter_queryset(Incident.objects.for_user(request.user))
        page = self.paginate_queryset(rows.values(queryset))
        return self.get_paginated_response(rows.page(page, request.user))

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        submit, note = data.pop("submit"), data.pop("note")
        # A refused report (a Django ValidationError) becomes a 400 in core/api/errors.py.
        incident = services.create_report(self.request.user, data, submit=submit,
                                          note=note, channel=Channel.API)
        # What the answer shows was just written: no need to read it back. The reporting
        # State is the caller's (loaded with the token), and a new report is in no linked
        # incident.
        incident.state = self.request.user.state
        incident.api_content = (data.get("indicators") or [],
                                data.get("named_analysts") or [])
        serializer.instance = incident
        serializer.context["linked_ids"] = set()

    def partial_update(self, request, *args, **kwargs):
        incident = self.get_object()
        serializer = self.get_serializer(incident, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        changes.pop("submit", None)
        note = changes.pop("note", "")
        services.amend_report(incident, request.user, changes, note=note)
        # Fetch again: refresh_from_db() would keep the prefetched, now stale, indicators.
        incident = self.get_object()
        return Response(self.get_serializer(incident).data)

    def update(self, request, *args, **kwargs):
        if not kwargs.get("partial"):
            return self.partial_update(request, *args, **kwargs)
        return super().update(request, *args, **kwargs)

    # The sub-resource lists answer a JSON array, as they always have: neither the incidents'
    # filters nor their pagination apply (a report's thread or versions are short, and clients
    # already read arrays), so the schema says an array and no filter parameters (issue 19).
    @extend_schema(responses=s.VersionSerializer(many=True))
    @action(detail=True, methods=["get"], **SUB_LIST)
    def versions(self, request, pk=None):
        incident = self.get_object()
        return Response(s.VersionSerializer(versions_for_user(request.user, incident),
                                            many=True).data)

    @extend_schema(methods=["GET"], responses=s.TransitionSerializer(many=True))
    @extend_schema(methods=["POST"], request=s.TransitionSerializer,
                   responses={201: s.TransitionSerializer(many=True)},
                   description="Change the report's status; answers the transitions after it.")
    @action(detail=True, methods=["get", "post"], **SUB_LIST)
    def transitions(self, request, pk=None):
        incident = self.get_object()
        if request.method == "POST":
            serializer = s.TransitionSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            data = serializer.validated_data
            duplicate_of = None
            if data.get("duplicate_of"):
                duplicate_of = get_object_or_404(Incident.objects.for_user(request.user),
                                                 pk=data["duplicate_of"])
            services.change_status(incident, request.user, data["to_status"],
                                   note=data.get("note", ""), duplicate_of=duplicate_of)
            code = status.HTTP_201_CREATED
        else:
            code = status.HTTP_200_OK
        # Notes belong to the thread (an information request's text): parties only, each by
        # the TLP of its time.
        items = transitions_for_user(request.user, incident)
        return Response(s.TransitionSerializer(items, many=True).data, status=code)

    @extend_schema(methods=["GET"], responses=s.MessageSerializer(many=True))
    @extend_schema(methods=["POST"], request=s.MessageSerializer,
                   responses={201: s.MessageSerializer})
    @action(detail=True, methods=["get", "post"], **SUB_LIST,
            parser_classes=[JSONParser, parsers.MultiPartParser, parsers.FormParser])
    def messages(self, request, pk=None):
        incident = self.get_object()
        # The thread is between the Secretariat and the reporting State, whatever the TLP.
        if services.workflow.party(request.user, incident) is None:
            raise NotFound()
        if request.method == "POST":
            serializer = s.MessageSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            message = services.post_message(incident, request.user,
                                            serializer.validated_data["body"],
                                            files=request.FILES.getlist("files"))
            context = {"request": request, "files": message_files_for_user(request.user, incident)}
            return Response(s.MessageSerializer(message, context=context).data,
                            status=status.HTTP_201_CREATED)
        thread = thread_for_user(request.user, incident)
        context = {"request": request, "files": message_files_for_user(request.user, incident)}
        return Response(s.MessageSerializer(thread, many=True, context=context).data)

    @extend_schema(methods=["GET"], responses=s.EvidenceSerializer(many=True))
    @extend_schema(methods=["POST"], request={"multipart/form-data": s.EvidenceSerializer},
                   responses={201: s.EvidenceSerializer})
    @action(detail=True, methods=["get", "post"], **SUB_LIST,
            parser_classes=[parsers.MultiPartParser, parsers.FormParser])
    def evidence(self, request, pk=None):
        incident = self.get_object()
        if request.method == "POST":
            upload = request.FILES.get("file")
            if upload is None:
                raise ValidationError({"file": ["Attach a file in the “file” field."]})
            if not upload.size:   # as the web form (and a message) refuses it
                raise ValidationError({"file": [_("%(name)s is empty.") % {
                    "name": services.safe_filename(upload.name)}]})
            # Not a party (403) or over the limit (413): core/api/errors.py answers.
            # Its length as the schema says (the serializer's field), a 400 naming it.
            try:
                description = s.EvidenceSerializer().fields["description"].run_validation(
                    request.data.get("description", ""))
            except ValidationError as exc:
                raise ValidationError({"description": exc.detail}) from None
            item = services.attach_evidence(incident, request.user, upload, description)
            context = {"request": request}
            return Response(s.EvidenceSerializer(item, context=context).data,
                            status=status.HTTP_201_CREATED)
        items = evidence_for_user(request.user, incident)
        return Response(s.EvidenceSerializer(items, many=True,
                                             context={"request": request}).data)


# Files over what one request may carry are refused unread (exchange/uploads.py): without a
# cap Django would stream a body of any size to disk before the action could refuse it.
IncidentViewSet.messages.upload_cap = uploads.UploadCap(services.message_request_limit,
                                                        uploads.refuse_json)
IncidentViewSet.evidence.upload_cap = uploads.UploadCap(lambda: settings.EVIDENCE_MAX_BYTES,
                                                        uploads.refuse_json)


class EvidenceViewSet(viewsets.GenericViewSet):
    queryset = Evidence.objects.none()
    serializer_class = s.EvidenceSerializer

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        item = get_object_or_404(Evidence.objects.for_user(request.user), pk=pk)
        return evidence_response(item)


class SummaryReturnViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin,
                           mixins.CreateModelMixin, viewsets.GenericViewSet):
    """Annual summary returns of the caller's State (all States for the Secretariat)."""

    serializer_class = s.SummaryReturnSerializer
    permission_classes = [
        TokenScopePermission,
        role_permission(FOCAL_POINT, actions=("create",),
                        message=gettext_lazy("Only a Member State's focal point can send a "
                                             "summary return.")),
    ]

    def get_queryset(self):
        return (SummaryReturn.objects.for_user(self.request.user)
                .select_related("state", "submitted_by")
                .prefetch_related("lines__category", "lines__rsit_class"))

    @extend_schema(request=s.SummaryReturnInputSerializer, responses=s.SummaryReturnSerializer)
    def create(self, request, *args, **kwargs):
        serializer = s.SummaryReturnInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        lines = [summaries.ReturnLine(line["category"],
                                      summaries.parse_rsit_class(line["rsit_class"]),
                                      line["incidents"], line["user_hours"])
                 for line in data["lines"]]
        summary = summaries.submit_return(request.user, data["year"], lines, data["notes"])
        return Response(self.get_serializer(summary).data, status=status.HTTP_201_CREATED)


class TaxonomyViewSet(viewsets.ViewSet):
    """The reporting taxonomy: categories and RSIT class:type values accepted by the API."""

    @extend_schema(responses={200: dict})
    def list(self, request):
        return Response({
            "categories": [{"code": c.code, "label": c.label, "clause": c.clause}
                           for c in Category.objects.filter(active=True)],
            "rsit": [{"value": t.machine_tag, "class": t.rsit_class.label, "type": t.label}
                     for t in RsitType.objects.select_related("rsit_class")],
        })
