"""Attack on the NUL rule (session 31) from the path instead of the query: the query check
(core/querystring.py) does not look at the path, and TAXII's status and object ids reached
PostgreSQL holding NUL (500 there)."""

from __future__ import annotations

import pytest

from tests.conftest import api_client
from tests.exchange.test_taxii import ALL

TAXII = "application/taxii+json;version=2.1"


@pytest.mark.parametrize("path", [
    "/taxii2/sentinelle/status/%00/", "/taxii2/sentinelle/status/a%00b/",
    f"/taxii2/sentinelle/collections/{ALL}/objects/indicator--%00/",
    f"/taxii2/sentinelle/collections/{ALL}/objects/indicator--%00/versions/",
    "/taxii2/sentinelle/collections/%00/", "/taxii2/sentinelle/collections/%00/manifest/",
    "/taxii2/%00/", "/taxii2/sentinelle%00/collections/",
])
@pytest.mark.parametrize("user", ["alice", "charlie"])
def test_a_nul_in_a_taxii_path_is_a_taxii_404(request, db, user, path):
    answer = api_client(request.getfixturevalue(user)).get(path, HTTP_ACCEPT=TAXII)
    assert answer.status_code == 404
    assert answer["Content-Type"].startswith("application/taxii+json")
    assert answer.json()["http_status"] == "404"


def test_a_nul_in_a_taxii_path_still_needs_a_token(db):
    answer = api_client(None).get("/taxii2/sentinelle/status/%00/", HTTP_ACCEPT=TAXII)
    assert answer.status_code == 401
