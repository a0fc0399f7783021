"""Campaign rounds on the platform (issue 15 point 2; docs/observatory.md, *Campaigns on the
platform*).

An access-probe bundle written by ``sentinelle probe campaign`` carries in its signed manifest
``campaign = {"name", "round", "scheduled_at", "interval_seconds", "config_sha256"}``.
``parse(manifest)`` checks that value strictly before anything is written (it comes from
outside: a bad one refuses the bundle, naming the field); ``record_round`` then, in the
submission's own transaction, links the new submission to its campaign as a round, sums each
service's results up to one verdict for the round, and looks for changes of verdict to alert.

A service's verdict in a round: its most frequent denial verdict if any result was denied (ties
in the order of ``Verdict``), else accessible if any result was, else challenged, else
inconclusive. A change: a verdict other than the service's stable verdict, held in two
consecutive rounds (n and n+1); it becomes the stable verdict. The first round known sets the
stable verdict; inconclusive rounds say nothing and are skipped, so A, B, A, B (flapping) raises
nothing. Rounds may arrive out of order (a probe's outbox retries): each new round recomputes
the service's changes over every round known, by round number, and a change already alerted for
the same stretch is not alerted again (its first round is corrected if a late round moves it).
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.urls import reverse
from django.utils.translation import gettext as _

from sentinelle.core.models import Role, User
from sentinelle.core.notifications import send_each
from sentinelle.observatory.bundles import BundleRefused
from sentinelle.observatory.campaign_spec import MAX_ROUND, CampaignInvalid, CampaignSpec
from sentinelle.observatory.campaign_spec import parse as parse_spec
from sentinelle.observatory.models import (
    DENIAL_VERDICTS,
    AccessObservation,
    BundleSubmission,
    Campaign,
    CampaignChange,
    CampaignRound,
    CampaignVerdict,
    Verdict,
)

__all__ = ["CampaignSpec", "find_changes", "notify", "notify_round", "parse", "record_round",
           "service_verdict"]

ORDER = list(Verdict.values)


def parse(manifest: dict) -> CampaignSpec | None:
    """The manifest's ``campaign``, checked (campaign_spec.py); None outside a campaign. A bad
    value refuses the bundle before anything is written."""
    try:
        return parse_spec(manifest)
    except CampaignInvalid as exc:
        raise BundleRefused(exc.messages) from None


def service_verdict(counts: dict[str, int]) -> str:
    """One verdict for a service's results in a round (the rule in the module's docstring)."""
    denied = {v: n for v, n in counts.items() if v in DENIAL_VERDICTS and n}
    if denied:
        return max(denied, key=lambda v: (denied[v], -ORDER.index(v)))
    for verdict in (Verdict.ACCESSIBLE, Verdict.CHALLENGED):
        if counts.get(verdict):
            return verdict
    return Verdict.INCONCLUSIVE


def find_changes(sequence: list[tuple[int, str]]) -> list[tuple[int, str, str]]:
    """(first round, from, to) of each change in a service's (round, verdict) sequence."""
    known = {n: v for n, v in sequence if v != Verdict.INCONCLUSIVE}
    stable, changes = None, []
    for number in sorted(known):
        verdict = known[number]
        if stable is None:
            stable = verdict
        elif verdict != stable and known.get(number + 1) == verdict:
            changes.append((number, stable, verdict))
            stable = verdict
    return changes


def record_round(submission: BundleSubmission, spec: CampaignSpec) -> CampaignRound:
    """Link ``submission`` to its campaign as round ``spec.round`` (inside the submission's
    transaction) and record and alert the changes it confirms."""
    campaign, _created = Campaign.objects.get_or_create(state_id=submission.state_id,
                                                        name=spec.name)
    # One round of a campaign at a time: the check below and the change detection see every
    # round committed before them.
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    taken = CampaignRound.objects.filter(campaign=campaign, number=spec.round) \
        .select_related("submission").first()
    if taken is not None:
        raise BundleRefused(_("Round %(round)s of campaign “%(name)s” was already submitted "
                              "with another bundle (SHA-256 %(sha256)s); nothing was "
                              "written.") % {"round": spec.round, "name": spec.name,
                                             "sha256": taken.submission.sha256})
    round_ = CampaignRound.objects.create(
        campaign=campaign, number=spec.round, scheduled_at=spec.scheduled_at,
        submission=submission, counts=submission.counts, config_sha256=spec.config_sha256)
    if campaign.last_round_at is None or spec.scheduled_at >= campaign.last_round_at:
        campaign.last_round_at = spec.scheduled_at
        campaign.interval = spec.interval
        campaign.config_sha256 = spec.config_sha256
        campaign.save(update_fields=["last_round_at", "interval", "config_sha256"])
    # The round's results summed up per service in SQL (a bundle may hold 200,000).
    per_service: dict[str, dict[str, int]] = {}
    for row in AccessObservation.objects.filter(submission=submission).order_by() \
            .values("service", "verdict").annotate(n=Count("pk")):
        per_service.setdefault(row["service"], {})[row["verdict"]] = row["n"]
    CampaignVerdict.objects.bulk_create(
        [CampaignVerdict(campaign=campaign, round=round_, number=spec.round, service=service,
                         verdict=service_verdict(counts), results=sum(counts.values()))
         for service, counts in sorted(per_service.items())], batch_size=1000)
    new: list[int] = []
    for service in sorted(per_service):
        new += _update_changes(campaign, service, spec.round)
    if new:
        # After the round commits (a refused round tells nobody), one e-mail per recipient for
        # all the changes the round confirms: a list whose services all become blocked at
        # once is one alert, not one per service. A failing e-mail is logged and never undoes
        # or fails the submission.
        transaction.on_commit(lambda pks=tuple(new): notify_round(pks), robust=True)
    return round_


def _update_changes(campaign: Campaign, service: str, detected_in: int) -> list[int]:
    """Record the service's changes; returns the primary keys of those not alerted yet."""
    sequence = list(CampaignVerdict.objects.filter(campaign=campaign, service=service)
                    .order_by("number").values_list("number", "verdict"))
    found = find_changes(sequence)
    stored = list(CampaignChange.objects.filter(campaign=campaign, service=service))
    created: list[int] = []
    for i, (number, before, after) in enumerate(found):
        low = found[i - 1][0] if i else 0
        high = found[i + 1][0] if i + 1 < len(found) else MAX_ROUND + 1
        # The same change already alerted: same verdicts, within this change's stretch.
        same = [c for c in stored if (c.from_verdict, c.to_verdict) == (before, after)
                and low < c.number < high]
        if same:
            if same[0].number != number:   # a late round moved the change's first round
                same[0].number = number
                same[0].save(update_fields=["number"])
            continue
        change = CampaignChange.objects.create(
            campaign=campaign, service=service, from_verdict=before, to_verdict=after,
            number=number, detected_in=detected_in)
        stored.append(change)
        created.append(change.pk)
    return created


def recipients(campaign: Campaign) -> list[User]:
    """The State's active focal points, then the Secretariat's active analysts and
    administrators."""
    focal = User.objects.filter(role=Role.FOCAL_POINT, state_id=campaign.state_id,
                                is_active=True).exclude(email="").order_by("pk")
    secretariat = User.objects.filter(role__in=(Role.ANALYST, Role.ADMIN), is_active=True) \
        .exclude(email="").order_by("pk")
    return [*focal, *secretariat]


MAX_LISTED_CHANGES = 50     # services spelt out in one alert; the rest are counted


def notify_round(change_pks: tuple[int, ...] | list[int]) -> None:
    """E-mail the changes one round confirmed: one change as ``notify`` does; several in one
    e-mail per recipient (the first ``MAX_LISTED_CHANGES`` listed, the rest counted). Each
    change is told once (its ``notified`` addresses are kept)."""
    if len(change_pks) == 1:
        notify(change_pks[0])
        return
    with transaction.atomic():
        changes = [c for c in CampaignChange.objects.select_for_update().select_related(
            "campaign__state").filter(pk__in=change_pks).order_by("service") if not c.notified]
        if not changes:
            return
        if len(changes) == 1:
            notify(changes[0].pk)
            return
        campaign = changes[0].campaign
        people = recipients(campaign)
        url = settings.BASE_URL.rstrip("/") + reverse("observatory-campaign", args=[campaign.pk])
        listed = [{"service": c.service, "round": c.number,
                   "before": Verdict(c.from_verdict).label, "after": Verdict(c.to_verdict).label}
                  for c in changes[:MAX_LISTED_CHANGES]]
        send_each(people, "observatory/email/campaign_changes", {
            "campaign": campaign, "state": campaign.state, "changes": listed,
            "count": len(changes), "more": len(changes) - len(listed), "url": url,
            "site_name": settings.SITE_NAME})
        told = [u.email for u in people]
        CampaignChange.objects.filter(pk__in=[c.pk for c in changes]).update(notified=told)


def notify(change_pk: int) -> None:
    """E-mail a recorded change to those who may see the campaign, each in their language,
    once: the addresses told are kept on the change, and a change already told is skipped."""
    with transaction.atomic():
        change = CampaignChange.objects.select_for_update().select_related(
            "campaign__state").get(pk=change_pk)
        if change.notified:
            return
        people = recipients(change.campaign)
        url = settings.BASE_URL.rstrip("/") + reverse("observatory-campaign",
                                                      args=[change.campaign_id])
        send_each(people, "observatory/email/campaign_change", {
            "change": change, "campaign": change.campaign, "state": change.campaign.state,
            "before": Verdict(change.from_verdict).label,
            "after": Verdict(change.to_verdict).label, "url": url,
            "site_name": settings.SITE_NAME})
        change.notified = [u.email for u in people]
        change.save(update_fields=["notified"])
