"""Attack on the NUL rule (session 31) from the path: the query check (core/querystring.py)
does not see it, and an action plan indicator's code from the path reached PostgreSQL holding
NUL (a 500 there for the Secretariat)."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.actionplan.test_actionplan import plan  # noqa: F401 (a fixture)


@pytest.mark.parametrize("path", [
    "/action-plan/indicators/%00/updates/new/", "/action-plan/indicators/A1.1%00/updates/new/",
    "/action-plan/A1/indicators/%00/edit/", "/action-plan/A1/indicators/A1.1%00/edit/",
])
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_nul_in_an_indicator_code_is_a_404(client: Client, charlie, plan, path,  # noqa: F811
                                             method):
    client.force_login(charlie)
    answer = getattr(client, method)(path, {"name": "x"} if method == "post" else None)
    assert answer.status_code == 404


def test_the_real_code_still_opens(client: Client, charlie, plan):  # noqa: F811
    client.force_login(charlie)
    assert client.get("/action-plan/indicators/A1.1/updates/new/").status_code == 200
    assert client.get("/action-plan/A1/indicators/A1.1/edit/").status_code == 200
