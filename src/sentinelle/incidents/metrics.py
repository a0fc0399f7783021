"""The incidents' figures on /metrics (core/metrics.py says what may be measured: totals only,
no label naming a State, a user or a TLP). Registered with the core in IncidentsConfig.ready."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric

from sentinelle.incidents.models import Incident


def report_metrics() -> Iterator[Metric]:
    since = timezone.now() - timedelta(hours=24)
    submitted = GaugeMetricFamily(
        "sentinelle_incident_reports_submitted_last_24h",
        "Incident reports first submitted in the past 24 hours, all States and TLPs together.")
    submitted.add_metric([], Incident.objects.filter(submitted_at__gte=since).count())
    yield submitted
