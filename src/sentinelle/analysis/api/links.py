"""/api/v1/linked-incidents/: the Secretariat's linked incidents (``analysis/linking.py``).

GET lists them, each with the references of the members the caller may see and the number of
the others; POST links reports (a new linked incident, or more reports into one); DELETE of
``{id}/reports/{report}/`` unlinks one. Anyone outside the Secretariat gets 404, as on every
Secretariat-only page; a read-only token cannot write. A focal point reads what it may know of
a link through the report's own ``linked_incident`` field."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from sentinelle.analysis import linking
from sentinelle.analysis.models import IncidentCluster
from sentinelle.core.api.fields import StrictCharField, StrictIntegerField
from sentinelle.core.api.permissions import TokenScopePermission, role_permission
from sentinelle.core.roles import SECRETARIAT
from sentinelle.incidents.models import Incident

_LINKED = inline_serializer("LinkedIncident", fields={
    "id": serializers.IntegerField(), "label": serializers.CharField(),
    "note": serializers.CharField(), "created_by": serializers.CharField(),
    "created_at": serializers.DateTimeField(),
    "reports": serializers.ListField(child=serializers.CharField(),
                                     help_text="references of the members the caller may see"),
    "other_reports": serializers.IntegerField(help_text="members the caller may not see"),
})


class LinkInput(serializers.Serializer):
    reports = serializers.ListField(child=StrictIntegerField(min_value=1,
                                                             max_value=2 ** 63 - 1),
                                    min_length=1, max_length=linking.MAX_MEMBERS,
                                    help_text="report ids (the number in /incidents/{id}/)")
    label = StrictCharField(required=False, default="", allow_blank=True,
                            max_length=linking.MAX_LABEL,
                            help_text="name of a new linked incident")
    note = StrictCharField(required=False, default="", allow_blank=True,
                           max_length=linking.MAX_NOTE)
    cluster = StrictIntegerField(required=False, allow_null=True, default=None,
                                 min_value=1, max_value=2 ** 63 - 1,
                                 help_text="add to this linked incident instead")


# The Secretariat's endpoints: anyone else signed in gets 403 (core/roles.py); a report or a
# linked incident the analyst may not see stays a 404.
_SECRETARIAT_ONLY = [TokenScopePermission, role_permission(SECRETARIAT)]


def _data(user, cluster: IncidentCluster) -> dict:
    ids = list(cluster.members.values_list("incident_id", flat=True))
    visible = list(Incident.objects.for_user(user).filter(pk__in=ids)
                   .select_related("state").order_by("pk"))
    return {"id": cluster.pk, "label": cluster.label, "note": cluster.note,
            "created_by": cluster.created_by.get_username(), "created_at": cluster.created_at,
            "reports": [i.reference for i in visible], "other_reports": len(ids) - len(visible)}


class LinkedIncidentsView(APIView):
    permission_classes = _SECRETARIAT_ONLY
    extra_error_statuses = (404,)   # a report or linked incident the caller may not see

    @extend_schema(operation_id="linked_incidents_list", tags=["analysis"],
                   responses={200: _LINKED.__class__(many=True)},
                   summary="Linked incidents (the Secretariat)")
    def get(self, request: Request) -> Response:
        clusters = linking.visible_clusters(request.user).select_related("created_by")
        return Response([_data(request.user, c) for c in clusters])

    @extend_schema(operation_id="linked_incidents_link", tags=["analysis"], request=LinkInput,
                   responses={201: _LINKED}, summary="Link reports as one incident")
    def post(self, request: Request) -> Response:
        form = LinkInput(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        ids = set(data["reports"])
        reports = list(Incident.objects.for_user(request.user).filter(pk__in=ids)
                       .select_related("state"))
        if len(reports) != len(ids):
            raise Http404   # a report the caller may not see: as if it did not exist
        cluster = None
        if data["cluster"] is not None:
            cluster = linking.visible_clusters(request.user).filter(pk=data["cluster"]).first()
            if cluster is None:
                raise Http404
        try:
            cluster = linking.link(request.user, reports, cluster=cluster,
                                   label=data["label"], note=data["note"])
        except PermissionDenied:
            raise Http404 from None
        return Response(_data(request.user, cluster), status=status.HTTP_201_CREATED)


class UnlinkView(APIView):
    permission_classes = _SECRETARIAT_ONLY

    @extend_schema(operation_id="linked_incidents_unlink", tags=["analysis"],
                   responses={204: None}, summary="Take a report out of its linked incident")
    def delete(self, request: Request, pk: int, report: int) -> Response:
        incident = Incident.objects.for_user(request.user).filter(
            pk=report, incident_link__cluster_id=pk).first()
        if incident is None:
            raise Http404
        try:
            linking.unlink(request.user, incident)
        except PermissionDenied:
            raise Http404 from None
        return Response(status=status.HTTP_204_NO_CONTENT)
