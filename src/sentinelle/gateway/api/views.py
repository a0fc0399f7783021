"""Read-only open-data API: published entries of one type (no token needed)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from sentinelle.gateway import exports
from sentinelle.gateway.kinds import model_for


class GatewayListView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(summary="Published gateway entries of one type",
                   responses={200: {"type": "array", "items": {"type": "object"}}})
    def get(self, request: Request, kind: str) -> Response:
        model_for(kind)
        return Response(exports.published_rows([kind]))
