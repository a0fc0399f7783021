import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from sentinelle.cli import main
from sentinelle.core.models import ApiToken, AuditEntry, User
from sentinelle.incidents.models import Incident, SummaryReturn


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_user_create_focal_point():
    run("user", "create", "cu-cirt", "--role", "focal-point", "--state", "cu",
        "--email", "cirt@example.cu")
    user = User.objects.get(username="cu-cirt")
    assert (user.role, user.state.alpha2, user.has_usable_password()) == (
        "focal-point", "CU", False)
    assert AuditEntry.objects.filter(action="user.create", object_id=str(user.pk)).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("args, reason", [
    (["--role", "focal-point"], "--state is required"),
    (["--role", "focal-point", "--state", "XX"], "unknown Member State"),
    (["--role", "analyst", "--state", "CU"], "only for focal points"),
    (["--role", "analyst", "--password", "short"], "password"),
])
def test_user_create_refuses_bad_input_with_a_reason(args, reason):
    with pytest.raises(CommandError, match=reason):
        run("user", "create", "x", *args)
    assert not User.objects.filter(username="x").exists()


@pytest.mark.django_db
def test_user_create_refuses_a_duplicate(alice):
    with pytest.raises(CommandError, match="already exists"):
        run("user", "create", "alice", "--role", "analyst")


def test_token_create_prints_only_the_token_and_stores_only_its_hmac(alice):
    out = run("token", "create", "--user", "alice", "--read-only", "--expires-days", "30")
    secret = out.strip()
    assert "\n" not in secret and secret.startswith("snl_")
    token = ApiToken.objects.get(user=alice)
    assert token.read_only and token.expires_at is not None
    assert secret not in (token.digest, token.prefix) and token.prefix in secret
    assert ApiToken.authenticate(secret) == token
    assert ApiToken.authenticate(secret + "x") is None


def test_token_revoke_and_list(alice):
    secret = run("token", "create", "--user", "alice").strip()
    prefix = secret.split("_")[1]
    assert "active" in run("token", "list", "--user", "alice")
    run("token", "revoke", prefix)
    assert ApiToken.authenticate(secret) is None
    assert "revoked" in run("token", "list", "--user", "alice")


@pytest.mark.django_db
def test_token_create_for_unknown_user_fails():
    with pytest.raises(CommandError, match="no user named"):
        run("token", "create", "--user", "nobody")


@pytest.mark.django_db
def test_cli_exits_non_zero_with_a_one_line_reason(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["sentinelle", "token", "create", "--user", "nobody"])
    assert exit_info.value.code != 0
    assert "no user named" in capsys.readouterr().err


@pytest.mark.django_db
def test_seed_demo_builds_a_consistent_year():
    run("seed-demo".replace("-", "_"), "--reports", "40", "--year", "2025")
    assert Incident.objects.count() == 40
    assert User.objects.filter(role="focal-point").count() >= 20
    assert SummaryReturn.objects.count() == 2
    # Some demo States consent to be named on every report, so the public figures and the
    # Council report have a by-State table to show; the others are counted unnamed.
    from sentinelle.analysis.disclosure import named_states
    from sentinelle.analysis.statistics import StatsFilter, compute

    named = named_states(compute(StatsFilter(year=2025), with_shares=True))
    assert {"CU", "FR"} <= named and "CH" not in named and "RU" not in named
    assert "already present" in run("seed_demo")
    run("audit", "verify")
