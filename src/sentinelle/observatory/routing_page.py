"""The routing monitor's page, /observatory/routing/: a State's watch list (its focal point edits
it), the alerts its live monitor delivered (current, history, timeline), feed status and mutes.

Who sees what: a focal point sees its own State's page only (``?state=`` naming another is
404); the Secretariat picks any State; Council readers and the public have no page (404). The
rows come through ``for_user`` like everything else.
"""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from sentinelle.analysis.handling import duration as duration_text
from sentinelle.core.models import MemberState
from sentinelle.core.roles import FOCAL_POINT, SECRETARIAT, role_required
from sentinelle.incidents.models import Incident
from sentinelle.observatory import live, timeline
from sentinelle.observatory.forms import WatchForm
from sentinelle.observatory.live_validation import MAX_TIME
from sentinelle.observatory.models import LiveRoutingAlert, LiveRoutingEvent, RoutingWatch
from sentinelle.observatory.routing import watchlist

MAX_CURRENT = 500   # a monitor gone wrong could raise thousands; the API pages through all
MAX_HISTORY = 100
MAX_EVENTS = 200

# The detectors' alert types (README, *Routing monitor*), named for a reader.
TYPE_LABELS = {
    "E|0": gettext_lazy("exact-prefix origin hijack"),
    "S|0": gettext_lazy("sub-prefix hijack"),
    "E|1": gettext_lazy("first-hop anomaly"),
    "S|1": gettext_lazy("first-hop anomaly on a more-specific"),
    "Q|0": gettext_lazy("squatting"),
    "S|-": gettext_lazy("more-specific beyond the maximum length"),
    "rpki-invalid": gettext_lazy("RPKI invalid"),
    "route-leak": gettext_lazy("route leak"),
    "visibility-loss": gettext_lazy("visibility loss"),
}
TAG_LABELS = {
    "valid": gettext_lazy("valid"), "invalid": gettext_lazy("invalid"),
    "not-found": gettext_lazy("not found"), "unknown": gettext_lazy("unknown"),
    "customer": gettext_lazy("customer"), "provider": gettext_lazy("provider"),
    "peer": gettext_lazy("peer"), "sibling": gettext_lazy("sibling"),
    "none": gettext_lazy("no relationship"),
    "low": gettext_lazy("low"), "medium": gettext_lazy("medium"), "high": gettext_lazy("high"),
}


def _page_state(request: HttpRequest) -> MemberState | None:
    """The State whose page this is; None: the Secretariat has not picked one. 404
    for a focal point naming another State (the views admit no other role)."""
    user = request.user
    code = (request.GET.get("state") or "").strip().upper()
    if user.is_focal_point:
        if code and code != user.state.alpha2:
            raise Http404
        return user.state
    if not code:
        return None
    return get_object_or_404(MemberState, alpha2=code)


def _tag(value) -> str:
    return str(TAG_LABELS.get(str(value), value)) if value not in (None, "") else ""


def _describe(alert: LiveRoutingAlert, visible_reports: set[int]) -> LiveRoutingAlert:
    """Attach what the template shows: labels, tags, duration, the report if visible."""
    tags = alert.tags or {}
    alert.type_label = TYPE_LABELS.get(alert.type, "")
    alert.roa = _tag(tags.get("roa"))
    alert.relationship = _tag(tags.get("relationship"))
    alert.confidence = tags.get("confidence")
    alert.confidence_level = _tag(tags.get("confidence_level"))
    alert.duration_text = (duration_text(dt.timedelta(seconds=alert.duration))
                           if alert.duration is not None else "")
    alert.report = alert.incident if alert.incident_id in visible_reports else None
    return alert


def _feeds(events) -> list[dict]:
    """The latest feed-lost/feed-restored per source: is each feed up, and since when."""
    latest: dict[str, dict] = {}
    for row in events.filter(event__in=("feed-lost", "feed-restored"))[:MAX_EVENTS]:
        payload = row.payload
        source = str(payload.get("source") or payload.get("alert_id") or "?")
        if source in latest:
            continue
        lost = live._when(payload.get("first_seen")) or row.received_at
        back = live._when(payload.get("resolved_at"))
        latest[source] = {"source": source, "lost": row.event == "feed-lost",
                          "since": lost if row.event == "feed-lost" else (back or
                                                                          row.received_at),
                          "lost_at": lost,
                          "duration": duration_text(dt.timedelta(seconds=payload["duration"]))
                          if payload.get("duration") is not None else ""}
    return sorted(latest.values(), key=lambda f: f["source"])


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def _until(value) -> dt.datetime | None:
    # A mute event's details are free-form JSON (checked for markup, not for meaning): a
    # time outside what a datetime holds would crash the page.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not 0 <= value < MAX_TIME:
        return None
    return live._when(value)


def _mutes(events) -> list[dict]:
    rows = []
    for row in events.filter(event__in=("muted", "unmuted"))[:50]:
        details = row.payload.get("details")
        details = details if isinstance(details, dict) else {}
        rows.append({"event": row.event, "received_at": row.received_at,
                     "prefix": _text(details.get("prefix")) or _text(row.payload.get("prefix")),
                     "type": _text(details.get("type")),
                     "until": _until(details.get("until")),
                     "reason": _text(details.get("reason")), "by": _text(details.get("by"))})
    return rows


def _watched(watch: RoutingWatch | None) -> list:
    if watch is None:
        return []
    try:
        return list(watchlist.loads(watch.yaml, source="watch.yaml").prefixes())
    except watchlist.WatchListError:   # stored before a stricter reader: shown, not fatal
        return []


def _chooser(request: HttpRequest) -> HttpResponse:
    states = MemberState.objects.annotate(
        watching=Count("routing_watch"),
    ).order_by("alpha2")
    open_alerts = dict(LiveRoutingAlert.objects.for_user(request.user).filter(
        status=LiveRoutingAlert.Status.RAISED).values_list("state__alpha2").annotate(
        n=Count("pk")).values_list("state__alpha2", "n"))
    active = {code for code in LiveRoutingAlert.objects.for_user(request.user).values_list(
        "state__alpha2", flat=True).distinct()}
    shown = [(s, open_alerts.get(s.alpha2, 0)) for s in states
             if s.watching or s.alpha2 in active]
    return render(request, "observatory/routing_choose.html", {
        "states": shown, "all_states": MemberState.objects.order_by("alpha2")})


@role_required(FOCAL_POINT, SECRETARIAT)
def routing(request: HttpRequest) -> HttpResponse:
    state = _page_state(request)
    if state is None:
        return _chooser(request)
    user = request.user
    can_edit = user.is_focal_point and user.state_id == state.pk
    watch = RoutingWatch.objects.for_user(user).filter(state=state).first()
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied
        form = WatchForm(request.POST, state=state)
        if form.is_valid():
            live.save_watch(user, state, form.cleaned_data["yaml"])
            messages.success(request, _("The watch list was saved."))
            return redirect(reverse("observatory-routing"))
    else:
        form = WatchForm(initial={"yaml": watch.yaml if watch else ""}, state=state)
    alerts = LiveRoutingAlert.objects.for_user(user).filter(state=state).select_related(
        "incident")
    current = list(alerts.filter(status=LiveRoutingAlert.Status.RAISED).order_by(
        "-raised_at", "-id")[:MAX_CURRENT])
    history = list(alerts.filter(status=LiveRoutingAlert.Status.RESOLVED).order_by(
        "-resolved_at", "-id")[:MAX_HISTORY])
    reports = {a.incident_id for a in current + history if a.incident_id}
    visible = set(Incident.objects.for_user(user).filter(pk__in=reports).values_list(
        "pk", flat=True))
    for alert in current + history:
        _describe(alert, visible)
    shown = sorted(current + history, key=lambda a: a.raised_at or timezone.now(),
                   reverse=True)
    events = LiveRoutingEvent.objects.for_user(user).filter(state=state)
    query = "" if user.is_focal_point else f"?state={state.alpha2}"
    return render(request, "observatory/routing.html", {
        "state": state, "watch": watch, "watched": _watched(watch), "form": form,
        "can_edit": can_edit, "current": current, "history": history,
        "timeline": timeline.build(shown, timezone.now()),
        "feeds": _feeds(events), "mutes": _mutes(events), "query": query,
        "last_event": events.first(),
    })


@role_required(FOCAL_POINT, SECRETARIAT)
def routing_watch_download(request: HttpRequest) -> HttpResponse:
    state = _page_state(request)
    if state is None:
        raise Http404
    watch = get_object_or_404(RoutingWatch.objects.for_user(request.user), state=state)
    response = HttpResponse(watch.yaml, content_type="application/yaml; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="watch.yaml"'
    return response
