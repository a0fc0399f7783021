"""Access-probe campaigns over the REST API: ``GET observatory/campaigns/`` (the campaigns one
may see: a focal point its own State's, the Secretariat every State's, ``?state=``) and
``GET observatory/campaigns/{id}/`` with a window of the timeline (per service, per round, the
verdict and whether a change starts there; ``?upto=`` and ``?rounds=`` as on the page) and the
changes of verdict. Another State's campaign is 404."""

from __future__ import annotations

from django.db.models import Count
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, viewsets
from rest_framework.permissions import IsAuthenticated

from sentinelle.core.api.permissions import TokenScopePermission
from sentinelle.incidents.models import Incident
from sentinelle.observatory.campaign_timeline import (
    DEFAULT_WINDOW,
    MAX_SERVICES,
    MAX_WINDOW,
    timeline,
    window_param,
)
from sentinelle.observatory.models import Campaign, CampaignChange

MAX_CHANGES = 1000


class CampaignSerializer(serializers.ModelSerializer):
    state = serializers.CharField(source="state.alpha2", read_only=True)
    interval_seconds = serializers.IntegerField(source="interval", read_only=True)
    rounds = serializers.IntegerField(source="round_count", read_only=True)

    class Meta:
        model = Campaign
        fields = ["id", "name", "state", "created", "last_round_at", "interval_seconds",
                  "config_sha256", "rounds"]
        read_only_fields = fields


class ChangeSerializer(serializers.ModelSerializer):
    round = serializers.IntegerField(source="number", read_only=True)
    to = serializers.CharField(source="to_verdict", read_only=True)

    class Meta:
        model = CampaignChange
        fields = ["service", "from_verdict", "to", "round", "detected_in", "detected_at"]
        read_only_fields = fields



class CampaignDetailSerializer(CampaignSerializer):
    window = serializers.SerializerMethodField()
    timeline = serializers.SerializerMethodField()
    changes = serializers.SerializerMethodField()
    changes_total = serializers.SerializerMethodField()

    class Meta(CampaignSerializer.Meta):
        fields = [*CampaignSerializer.Meta.fields, "window", "timeline", "changes",
                  "changes_total"]
        read_only_fields = fields

    def _view(self, obj):
        if not hasattr(self, "_timeline"):
            params = self.context["request"].query_params
            self._timeline = timeline(
                obj, window_param(params.get("upto"), None, 1, 2**31 - 1),
                window_param(params.get("rounds"), DEFAULT_WINDOW, 1, MAX_WINDOW),
                window_param(params.get("services_from"), 0, 0, 2**31 - 1) or 0)
        return self._timeline

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_window(self, obj) -> dict:
        """The rounds shown, the campaign's first and last, and ``upto`` for the neighbours;
        ``reports`` maps a round to its bundle submission's id where the caller may see its
        report."""
        view = self._view(obj)
        user = self.context["request"].user
        readable = set(Incident.objects.for_user(user).filter(
            pk__in=[r.submission.incident_id for r in view.rounds]).values_list("pk", flat=True))
        return {"first": view.first, "last": view.last, "low": view.low, "high": view.high,
                "earlier": view.earlier, "later": view.later, "size": view.size,
                "services": {"total": view.services_total, "from": view.services_from,
                             "size": view.services_size, "earlier": view.services_earlier,
                             "later": view.services_later},
                "rounds": [{"round": r.number, "scheduled_at": r.scheduled_at,
                            "submission": r.submission_id
                            if r.submission.incident_id in readable else None}
                           for r in view.rounds]}

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_timeline(self, obj) -> list[dict]:
        """Per service: its cells, one per round of the window."""
        view = self._view(obj)
        return [{"service": row["service"], "cells": [
            {"round": r.number, "verdict": cell["verdict"] if cell else None,
             "change": bool(cell and cell["change"])}
            for r, cell in zip(view.rounds, row["cells"], strict=True)]} for row in view.rows]

    @extend_schema_field(ChangeSerializer(many=True))
    def get_changes(self, obj) -> list[dict]:
        """The latest MAX_CHANGES changes, oldest first (``changes_total`` counts them all)."""
        rows = CampaignChange.objects.filter(campaign=obj).order_by("-number", "-service")
        return ChangeSerializer(list(rows[:MAX_CHANGES])[::-1], many=True).data

    def get_changes_total(self, obj) -> int:
        return CampaignChange.objects.filter(campaign=obj).count()


class CampaignViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin,
                      viewsets.GenericViewSet):
    """Access-probe campaigns: a focal point's own State's, every State's for the Secretariat."""

    permission_classes = [IsAuthenticated, TokenScopePermission]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Campaign.objects.none()
        rows = Campaign.objects.for_user(self.request.user).select_related("state").annotate(
            round_count=Count("rounds"))
        code = (self.request.query_params.get("state") or "").strip().upper()
        if code and self.action == "list":
            rows = rows.filter(state__alpha2=code)
        return rows

    def get_serializer_class(self):
        return CampaignDetailSerializer if self.action == "retrieve" else CampaignSerializer

    @extend_schema(parameters=[OpenApiParameter("state", OpenApiTypes.STR,
                                                description="ISO alpha-2 (the Secretariat)")])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(parameters=[
        OpenApiParameter("upto", OpenApiTypes.INT,
                         description="Last round of the window (default: the latest)"),
        OpenApiParameter("rounds", OpenApiTypes.INT,
                         description=f"Rounds in the window, 1 to {MAX_WINDOW} "
                                     f"(default {DEFAULT_WINDOW})"),
        OpenApiParameter("services_from", OpenApiTypes.INT,
                         description=f"Offset of the first service (alphabetical); at most "
                                     f"{MAX_SERVICES} services are returned (see "
                                     "window.services)")])
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)
