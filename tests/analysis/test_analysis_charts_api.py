"""SVG charts are deterministic and escaped; the statistics endpoint is in the OpenAPI schema."""

from __future__ import annotations

import pytest

from sentinelle.analysis import charts
from tests.conftest import api_client, file_report


def test_svg_is_deterministic_and_escaped():
    rows = [{"key": "a", "label": "<script>x</script>", "incidents": 3},
            {"key": "b", "label": "B", "incidents": None, "display": "<3"}]
    svg = charts.bar_chart(rows, "Title & co")
    assert svg == charts.bar_chart(rows, "Title & co")
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "&lt;3" in svg
    assert "Title &amp; co" in svg
    months = [{"key": f"2026-{m:02d}", "incidents": m} for m in range(1, 13)]
    assert charts.column_chart(months, "M").count("<rect") == 12


@pytest.mark.django_db
def test_openapi_schema_lists_statistics():
    # Generated from this app's routes alone: the whole /api/schema/ is other apps' business.
    from django.urls import include, path
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator(
        patterns=[path("api/v1/", include("sentinelle.analysis.api.urls"))]).get_schema(
        request=None, public=True)
    operation = schema["paths"]["/api/v1/statistics/"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"year", "state", "region"}
    assert "small_count_threshold" in schema["components"]["schemas"]["Statistics"]["properties"]


@pytest.mark.django_db
def test_statistics_endpoint_read_only_tokens_work(alice, bob, charlie):
    file_report(alice)
    for user in (alice, bob, charlie):
        response = api_client(user, read_only=True).get("/api/v1/statistics/", {"year": 2026})
        assert response.status_code == 200
        assert response.json()["filter"]["year"] == 2026
