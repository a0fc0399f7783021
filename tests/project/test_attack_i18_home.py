"""Attack on the home page issue 18 moved out of the core (sentinelle/views.py): a focal point
sees only its own State's reports and figures; the Secretariat's lists and counts hold only the
reports it may see (a RED or AMBER+STRICT report it is not named on stays out); the Council and
anonymous visitors only TLP:CLEAR."""

from __future__ import annotations

import pytest

from tests.conftest import file_report

pytestmark = pytest.mark.django_db


@pytest.fixture
def reports(alice, bob, charlie):
    made = {
        "cu_clear": file_report(alice, title="HOME CU clear", tlp="clear"),
        "cu_green": file_report(alice, title="HOME CU green", tlp="green"),
        "cu_amber": file_report(alice, title="HOME CU amber", tlp="amber"),
        "cu_red": file_report(alice, title="HOME CU red", tlp="red"),
        "cu_strict": file_report(alice, title="HOME CU strict", tlp="amber+strict"),
        "cu_red_named": file_report(alice, title="HOME CU named red", tlp="red",
                                    named_analysts=[charlie]),
        "ch_amber": file_report(bob, title="HOME CH amber", tlp="amber"),
        "cu_draft": file_report(alice, title="HOME CU draft", tlp="clear", submit=False),
    }
    return made


def shown(client, user) -> set[str]:
    if user is not None:
        client.force_login(user)
    response = client.get("/")
    assert response.status_code == 200
    text = response.content.decode()
    return {title for title in ("HOME CU clear", "HOME CU green", "HOME CU amber",
                                "HOME CU red", "HOME CU strict", "HOME CU named red",
                                "HOME CH amber", "HOME CU draft")
            if f"{title}<" in text or f"{title}\n" in text or f"{title} " in text}


def test_a_focal_point_sees_only_its_own_states_reports(client, reports, bob):
    assert shown(client, bob) == {"HOME CH amber"}


def test_the_reporting_state_sees_all_its_own_drafts_and_reports(client, reports, alice):
    seen = shown(client, alice)
    assert "HOME CH amber" not in seen
    assert {"HOME CU red", "HOME CU draft"} <= seen


def test_the_secretariat_sees_and_counts_only_what_it_may_see(client, reports, charlie):
    seen = shown(client, charlie)
    assert not seen & {"HOME CU red", "HOME CU strict", "HOME CU draft"}
    assert {"HOME CU amber", "HOME CU named red", "HOME CH amber"} <= seen
    counts = client.get("/").context["counts"]
    assert sum(counts.values()) == 5  # clear, green, amber, named red, Swiss amber


@pytest.mark.parametrize("who", ["council", None])
def test_the_council_and_the_public_see_only_clear(client, reports, who, request):
    user = request.getfixturevalue(who) if who else None
    assert shown(client, user) == {"HOME CU clear"}
