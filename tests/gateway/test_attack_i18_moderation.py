"""Attack on issue 18's role rule in the gateway's moderation: a Secretariat-only move
(publish, request changes, unpublish) asked by a focal point is the wrong role, so it must be
the one 403 page whatever entry the URL names — its own, another State's unpublished draft, or
none at all. Before the fix the entry was looked up first: the focal point got 403 for its own
entry but 404 for another State's, the lookup the rule says must not happen before the role
check."""

from __future__ import annotations

import pytest

from sentinelle.gateway.models import EntryStatus, GoodPractice
from tests.conftest import PASSWORD
from tests.gateway_helpers import make_entry

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("action", ["publish", "request-changes", "unpublish"])
def test_a_secretariat_move_by_a_focal_point_is_403_for_every_entry_id(client, alice, bob,
                                                                        action):
    own = make_entry(alice, measure="Cuba's own draft")
    other = make_entry(bob, measure="Swiss draft, unpublished")
    assert client.login(username=alice.username, password=PASSWORD)
    answers = {pk: client.post(f"/gateway/good-practices/{pk}/{action}/").status_code
               for pk in (own.pk, other.pk, 999999)}
    assert answers == {own.pk: 403, other.pk: 403, 999999: 403}
    # Refused before anything was read or written.
    assert set(GoodPractice.objects.values_list("status", flat=True)) == {EntryStatus.DRAFT}


def test_a_focal_point_still_moves_its_own_entry_and_not_another_states(client, alice, bob):
    """The fix stays narrow: submitting is the focal point's own move (404 for another State's
    unpublished entry, which it may not see)."""
    own = make_entry(alice, measure="Cuba's own draft")
    other = make_entry(bob, measure="Swiss draft, unpublished")
    assert client.login(username=alice.username, password=PASSWORD)
    assert client.post(f"/gateway/good-practices/{other.pk}/submit/").status_code == 404
    assert client.post(f"/gateway/good-practices/{own.pk}/submit/").status_code == 302
    own.refresh_from_db()
    other.refresh_from_db()
    assert (own.status, other.status) == (EntryStatus.SUBMITTED, EntryStatus.DRAFT)
