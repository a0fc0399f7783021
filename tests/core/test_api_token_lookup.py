"""The token lookup written out once (ApiToken.authenticate, issue 17) against the ORM's query
it replaced (``orm_lookup`` below) on the same secrets: the same token, user and State, or None
for the same ones; and the API still refuses what it refused."""

from __future__ import annotations

import hmac
from datetime import timedelta

from django.utils import timezone

from sentinelle.core.models import ApiToken
from sentinelle.core.models.tokens import TOKEN_PREFIX, token_digest
from tests.conftest import api_client


def _fields(obj) -> dict | None:
    if obj is None:
        return None
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def orm_lookup(secret: str) -> ApiToken | None:
    """ApiToken.authenticate as the ORM wrote it before issue 17."""
    parts = secret.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        return None
    token = ApiToken.objects.active().select_related("user__state").filter(
        prefix=parts[1]).first()
    if token is None or not hmac.compare_digest(token.digest, token_digest(secret)):
        return None
    if not token.user.is_active:
        return None
    return token


def _same(secret: str) -> ApiToken | None:
    ours, orm = ApiToken.authenticate(secret), orm_lookup(secret)
    assert _fields(ours) == _fields(orm)
    if orm is not None:
        assert _fields(ours.user) == _fields(orm.user)
        assert _fields(ours.user.state) == _fields(orm.user.state)
        assert ours.user.state_id == orm.user.state_id
    return ours


def test_the_same_token_user_and_state_as_the_orm(alice, charlie, django_assert_num_queries):
    for user in (alice, charlie):   # a State's focal point; an analyst, of no State
        token, secret = ApiToken.issue(user, read_only=user is charlie, expires_days=3)
        found = _same(secret)
        assert found is not None and found.pk == token.pk and found.user.pk == user.pk
        with django_assert_num_queries(0):   # loaded with the token, as select_related did
            assert found.user.state == user.state


def test_what_the_orm_refuses_is_refused(alice, bob):
    _token, secret = ApiToken.issue(alice)
    assert _same(secret) is not None
    assert _same(secret[:-1] + ("x" if secret[-1] != "x" else "y")) is None   # wrong digest
    assert _same("snl_nope_whatever") is None and _same("garbage") is None
    revoked, revoked_secret = ApiToken.issue(bob)
    ApiToken.objects.filter(pk=revoked.pk).update(revoked_at=timezone.now())
    assert _same(revoked_secret) is None
    expired, expired_secret = ApiToken.issue(bob)
    ApiToken.objects.filter(pk=expired.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1))
    assert _same(expired_secret) is None
    alice.is_active = False
    alice.save()
    assert _same(secret) is None


def test_the_api_refuses_a_revoked_token(alice):
    client = api_client(alice)
    assert client.get("/api/v1/incidents/").status_code == 200
    ApiToken.objects.filter(user=alice).update(revoked_at=timezone.now())
    response = client.get("/api/v1/incidents/")
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid, expired or revoked token."
