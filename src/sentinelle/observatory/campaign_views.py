"""The campaign pages: the campaigns one may see (a focal point its own State's, the Secretariat
every State's, by State), and one campaign's timeline. Reads go through ``for_user``; another
State's campaign is 404."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from sentinelle.core.models import MemberState
from sentinelle.incidents.models import Incident
from sentinelle.observatory.campaign_timeline import (
    DEFAULT_WINDOW,
    MAX_WINDOW,
    timeline,
    window_param,
)
from sentinelle.observatory.models import Campaign, CampaignChange

MAX_CHANGES_SHOWN = 200


def campaigns_for_user(user, state: str = ""):
    visible = Campaign.objects.for_user(user).select_related("state").annotate(
        round_count=Count("rounds"))
    return visible.filter(state__alpha2=state) if state else visible


@login_required
def campaign_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    state = (request.GET.get("state") or "").strip().upper()[:2]
    campaigns = campaigns_for_user(user, state if user.is_secretariat else "")
    states = MemberState.objects.filter(
        pk__in=Campaign.objects.for_user(user).values("state_id")).order_by("alpha2") \
        if user.is_secretariat else []
    return render(request, "observatory/campaigns.html", {
        "campaigns": campaigns, "states": states, "state": state})


@login_required
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    campaign = get_object_or_404(Campaign.objects.for_user(user).select_related("state"), pk=pk)
    size = window_param(request.GET.get("rounds"), DEFAULT_WINDOW, 1, MAX_WINDOW)
    upto = window_param(request.GET.get("upto"), None, 1, 2**31 - 1)
    view = timeline(campaign, upto, size,
                    window_param(request.GET.get("services_from"), 0, 0, 2**31 - 1) or 0)
    # A round's report and bundle are shown by the report's own rules (a draft is its State's).
    readable = set(Incident.objects.for_user(user).filter(
        pk__in=[r.submission.incident_id for r in view.rounds]).values_list("pk", flat=True))
    changes = CampaignChange.objects.filter(campaign=campaign).order_by("-number", "service")
    return render(request, "observatory/campaign.html", {
        "campaign": campaign, "timeline": view, "readable": readable,
        "changes": changes[:MAX_CHANGES_SHOWN], "changes_total": changes.count()})
