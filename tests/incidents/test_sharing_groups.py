"""A report or indicator shared with a sharing group reaches the group's focal points (MISP's
distribution 4), never beyond, and never for RED."""

import datetime as dt

from django.utils import timezone

from sentinelle.core.models import MemberState, Role, SharingGroup
from sentinelle.exchange.models import SharedIndicator
from sentinelle.incidents.models import Incident
from tests.conftest import api_client, file_report, make_user


def group_with(*codes: str) -> SharingGroup:
    group = SharingGroup.objects.create(name="Caribbean CERTs")
    group.states.set(MemberState.objects.filter(alpha2__in=codes))
    return group


def test_group_members_see_an_amber_report_others_do_not(alice, bob):
    group = group_with("CU", "CH")
    outsider = make_user("olga", Role.FOCAL_POINT, "RU")
    amber = file_report(alice, tlp="amber")
    Incident.objects.filter(pk=amber.pk).update(sharing_group=group)
    assert api_client(bob).get(f"/api/v1/incidents/{amber.pk}/").status_code == 200
    assert api_client(outsider).get(f"/api/v1/incidents/{amber.pk}/").status_code == 404
    listed = api_client(bob).get("/api/v1/incidents/").json()["results"]
    assert [item["id"] for item in listed] == [amber.pk]


def test_red_stays_with_its_state_even_in_a_group(alice, bob):
    group = group_with("CU", "CH")
    red = file_report(alice, tlp="red")
    Incident.objects.filter(pk=red.pk).update(sharing_group=group)
    assert api_client(bob).get(f"/api/v1/incidents/{red.pk}/").status_code == 404


def test_group_shared_indicators_follow_the_same_rule(alice, bob):
    group = group_with("CU", "CH")
    outsider = make_user("olga", Role.FOCAL_POINT, "RU")
    now = timezone.now()
    shared = SharedIndicator.objects.create(
        state=alice.state, type="ipv4", value="192.0.2.9", tlp="amber", sharing_group=group,
        created=now, modified=now)
    SharedIndicator.objects.create(state=alice.state, type="ipv4", value="192.0.2.10",
                                   tlp="amber", created=now - dt.timedelta(days=1),
                                   modified=now)
    assert list(SharedIndicator.objects.for_user(bob)) == [shared]
    assert not SharedIndicator.objects.for_user(outsider).exists()
    assert SharedIndicator.objects.for_user(alice).count() == 2
