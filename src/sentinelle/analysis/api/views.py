"""GET /api/v1/statistics/: the dashboards' figures, with the same disclosure rules."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from sentinelle.analysis import disclosure
from sentinelle.analysis.statistics import TABLES

_ROW = inline_serializer("StatisticsRow", fields={
    "key": serializers.CharField(), "label": serializers.CharField(),
    "incidents": serializers.IntegerField(allow_null=True,
                                          help_text="None when suppressed (shown \"<3\")"),
    "reported": serializers.IntegerField(allow_null=True),
    "from_summary_returns": serializers.IntegerField(allow_null=True),
    "user_hours": serializers.FloatField(allow_null=True),
    "suppressed": serializers.BooleanField(),
})
_TIMES = inline_serializer("ResponseTimes", fields={
    # count is null with the figures when they are suppressed (below the small-count threshold)
    "count": serializers.IntegerField(allow_null=True),
    "median_hours": serializers.FloatField(allow_null=True),
    "p90_hours": serializers.FloatField(allow_null=True)})
_BODY = inline_serializer("Statistics", fields={
    "filter": serializers.DictField(),
    "totals": serializers.DictField(help_text="incidents, reported, from_summary_returns, "
                                              "user_hours, states_reporting, with_evidence, "
                                              "evidence_rate"),
    **{name: _ROW.__class__(many=True) for name in TABLES},
    "time_to_acknowledge": _TIMES, "time_to_close": _TIMES,
    "year_over_year": serializers.DictField(),
    "suppressed": serializers.BooleanField(),
    "small_count_threshold": serializers.IntegerField(),
})


def _param(name: str, description: str, many: bool = False,
           kind: OpenApiTypes | dict = OpenApiTypes.STR) -> OpenApiParameter:
    return OpenApiParameter(name, kind, description=description, many=many)


class StatisticsView(APIView):
    # A reader outside the Secretariat narrowing the public figures (disclosure.public_year).
    extra_error_statuses = (403,)

    @extend_schema(
        operation_id="statistics", tags=["analysis"], responses={200: _BODY},
        summary="Incident statistics (the dashboards' figures)",
        description=(
            "Counts and user-hours by category, RSIT class and type, region, State, month, "
            "severity and status; response times; States reporting; evidence rate; year-over-"
            "year change. Submitted reports of every TLP are counted, combined with annual "
            "summary returns by max() per State × year × category × RSIT class. The Secretariat "
            "sees precise figures of the reports it may see, with every filter. Everyone else "
            "reads the public figures of one calendar year (the README's disclosure rule): only "
            "`year` may be given (other parameters answer 403 naming them), counts below the "
            "small-count threshold, and those that would let one be recovered, are null with "
            "suppressed=true, and only States that consented are named. A focal point reads "
            "its own State's figures precisely with `state=<its own>` and any filter."),
        parameters=[
            # The years analysis/filters.py reads (four digits, 1900-2999).
            _param("year", "Calendar year of the incidents' start",
                   kind={"type": "integer", "minimum": 1900, "maximum": 2999}),
            _param("date_from", "First day (YYYY-MM-DD)", kind=OpenApiTypes.DATE),
            _param("date_to", "Last day (YYYY-MM-DD)", kind=OpenApiTypes.DATE),
            _param("state", "ISO alpha-2 code(s) of reporting States", many=True),
            _param("category", "Category code(s)", many=True),
            _param("rsit_class", "RSIT class code(s)", many=True),
            _param("region", "ITU-D region or administrative region letter(s)", many=True),
        ])
    def get(self, request: Request) -> Response:
        # A bad value is a 400 and a parameter this reader may not use a 403, each naming the
        # parameters (core/api/errors.py).
        # Sent empty, a date or a year is no value the schema allows: said, not ignored (the
        # web page's form, which sends every field, reads empty as "any").
        empty = {name: [_("Give a value, or leave the parameter out.")]
                 for name in ("year", "date_from", "date_to")
                 if name in request.query_params
                 and not all(v.strip() for v in request.query_params.getlist(name))}
        if empty:
            raise ValidationError(empty)
        stats = disclosure.statistics_for(request.user, request.query_params)
        return Response({**stats.as_dict(),
                         "small_count_threshold": disclosure.small_count_threshold()})
