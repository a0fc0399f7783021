"""Issue 11, findings 1-3: one sign-in path, one lock-out, and a second factor that cannot be
stepped around (API tokens, the API's session, the Django admin)."""

from __future__ import annotations

import base64

import pytest
from django.contrib import admin
from django.test import Client, RequestFactory
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from sentinelle.core.models import ApiToken, Role, SignInFailure
from tests.conftest import PASSWORD, api_client, file_report, make_user

LOCKED = "Too many failed sign-ins"


def code_for(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, digits=device.digits):06d}"


def wrong_code(device: TOTPDevice) -> str:
    return "000000" if code_for(device) != "000000" else "111111"


def sign_in(client, username, password=PASSWORD, url="/account/login/"):
    return client.post(url, {"username": username, "password": password})


def signed_in_user_id(client) -> str | None:
    return client.session.get("_auth_user_id")


@pytest.fixture
def two_factor(settings):
    settings.REQUIRE_2FA = True
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # django-otp's own delay would hide our counter
    settings.LOCKOUT_ATTEMPTS = 5


@pytest.fixture
def device(alice) -> TOTPDevice:
    return TOTPDevice.objects.create(user=alice, name="phone", confirmed=True)


@pytest.fixture
def dora(db):
    """Secretariat administrator: staff and superuser, as `sentinelle user create` makes one."""
    user = make_user("dora", Role.ADMIN, is_staff=True, is_superuser=True)
    TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    return user


# --- 1. API tokens and other /account/ pages need the second factor --------------------------

def test_password_only_session_cannot_issue_tokens(client, alice, device, two_factor):
    assert sign_in(client, "alice").status_code == 302
    response = client.post("/account/tokens/", {"name": "exfiltrate"})
    assert response.status_code == 302
    assert response.url.startswith("/account/two-factor/")
    assert not ApiToken.objects.filter(user=alice).exists()


def test_password_only_session_cannot_list_or_revoke_tokens(client, alice, device, two_factor):
    token, secret = ApiToken.issue(alice, name="SIEM")
    sign_in(client, "alice")
    response = client.get("/account/tokens/")
    assert response.status_code == 302 and response.url.startswith("/account/two-factor/")
    response = client.post(f"/account/tokens/{token.pk}/revoke/")
    assert response.status_code == 302 and response.url.startswith("/account/two-factor/")
    token.refresh_from_db()
    assert token.revoked_at is None and ApiToken.authenticate(secret) is not None


def test_tokens_once_the_second_factor_is_verified(client, alice, device, two_factor):
    sign_in(client, "alice")
    response = client.post("/account/two-factor/", {"code": code_for(device),
                                                     "next": "/account/tokens/"})
    assert response.status_code == 302 and response.url == "/account/tokens/"
    response = client.post("/account/tokens/", {"name": "SIEM"})
    assert response.status_code == 200
    secret = response.context["new_secret"]
    assert ApiToken.authenticate(secret).user == alice
    # The page that shows a secret is never kept by a browser or proxy cache.
    assert "no-store" in response["Cache-Control"]


def test_sign_in_sign_out_and_second_factor_pages_stay_open(client, alice, device, two_factor):
    sign_in(client, "alice")
    assert client.get("/account/two-factor/").status_code == 200
    assert client.get("/account/login/").status_code == 302  # already signed in: onwards
    response = client.post("/account/logout/")
    assert response.status_code == 302 and not response.url.startswith("/account/two-factor/")
    assert signed_in_user_id(client) is None


def test_password_only_session_reads_the_api_as_the_public(client, alice, bob, two_factor):
    report = file_report(alice, tlp="amber")
    TOTPDevice.objects.create(user=alice, name="phone", confirmed=True)
    sign_in(client, "alice")
    assert client.get(f"/api/v1/incidents/{report.pk}/").status_code == 404
    response = client.post("/api/v1/incidents/", {}, content_type="application/json")
    assert response.status_code in (401, 403)
    assert api_client(alice).get(f"/api/v1/incidents/{report.pk}/").status_code == 200


def test_an_enrolment_secret_seen_by_another_session_never_becomes_the_second_factor(
        alice, two_factor):
    """Someone who has only the password of an account that has not enrolled yet can open the
    enrolment page; the secret shown there must not be the one its owner then confirms."""
    intruder, owner = Client(), Client()
    sign_in(intruder, "alice")
    seen = intruder.get("/account/two-factor/").context["secret"]
    sign_in(owner, "alice")
    response = owner.get("/account/two-factor/")
    assert response.context["secret"] != seen
    assert "no-store" in response["Cache-Control"]  # the page shows a secret
    # Opened again elsewhere, the page replaces the secret: the owner is told to scan anew,
    # and that is not counted as a failed code.
    seen = intruder.get("/account/two-factor/").context["secret"]
    device = TOTPDevice.objects.get(user=alice, confirmed=False)
    response = owner.post("/account/two-factor/", {"code": code_for(device), "next": "/"})
    assert response.status_code == 200 and "scan this QR code again" in response.content.decode()
    assert not SignInFailure.objects.exists()
    device.refresh_from_db()
    response = owner.post("/account/two-factor/", {"code": code_for(device), "next": "/"})
    assert response.status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    assert base64.b32encode(device.bin_key).decode().rstrip("=") != seen


def test_a_token_cannot_reach_the_tokens_page(db, alice):
    _token, secret = ApiToken.issue(alice, read_only=True)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    response = client.post("/account/tokens/", {"name": "more"})
    assert response.status_code == 302 and response.url.startswith("/account/login/")
    assert ApiToken.objects.filter(user=alice).count() == 1


def test_the_api_has_no_way_to_mint_tokens(db, alice):
    """Tokens come only from the verified web page and the command line: no API operation
    creates one, so no token (read-only or not) can mint another."""
    schema = api_client(alice, read_only=True).get("/api/schema/?format=json").json()
    assert not [path for path in schema["paths"] if "token" in path.lower()]
    assert api_client(alice).post("/api/v1/tokens/", {}, format="json").status_code == 404
    assert ApiToken.objects.filter(user=alice).count() == 2


def test_tokens_page_refuses_cross_site_posts(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    token, _secret = ApiToken.issue(alice)
    assert client.post("/account/tokens/", {"name": "csrf"}).status_code == 403
    assert client.post(f"/account/tokens/{token.pk}/revoke/").status_code == 403
    token.refresh_from_db()
    assert token.revoked_at is None
    assert ApiToken.objects.filter(user=alice).count() == 1
    assert client.get(f"/account/tokens/{token.pk}/revoke/").status_code == 405


def test_the_api_refuses_a_cross_site_post_riding_the_session(alice):
    """The API accepts the browser's session, so a write through it needs the CSRF token as a
    page's form does; a Bearer token (which no other site can attach) needs none."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post("/api/v1/incidents/", {}, content_type="application/json")
    assert response.status_code == 403 and "CSRF" in response.json()["detail"]
    assert api_client(alice).post("/api/v1/incidents/", {}, format="json").status_code == 400


# --- 2. one sign-in path: the admin's login goes through /account/login/ ----------------------

def test_admin_login_does_not_step_around_the_lock_out(client, dora, two_factor):
    for _ in range(6):
        sign_in(client, "dora", "wrong")
    assert LOCKED in sign_in(client, "dora").content.decode()
    response = sign_in(client, "dora", url="/admin/login/")
    assert signed_in_user_id(client) is None
    assert response.status_code == 302 and response.url.startswith("/account/login/")


def test_admin_login_never_checks_a_password(client, dora, settings):
    settings.LOCKOUT_ATTEMPTS = 5
    for _ in range(10):
        response = sign_in(client, "dora", "wrong", url="/admin/login/")
        assert response.status_code == 302 and response.url.startswith("/account/login/")
    assert sign_in(client, "dora", url="/admin/login/").status_code == 302
    assert signed_in_user_id(client) is None


def test_admin_sends_the_anonymous_to_the_one_sign_in_page(client, db):
    response = client.get("/admin/", follow=True)
    assert response.redirect_chain[-1][0] == "/account/login/?next=%2Fadmin%2F"
    assert response.status_code == 200
    response = client.get("/admin/login/?next=https://evil.example/")
    assert response.url == "/account/login/?next=%2Fadmin%2F"


def test_admin_needs_the_second_factor(client, dora, two_factor):
    response = client.post("/account/login/?next=/admin/",
                           {"username": "dora", "password": PASSWORD, "next": "/admin/"})
    assert response.status_code == 302
    assert client.get("/admin/").url.startswith("/account/two-factor/")
    request = RequestFactory().get("/admin/")
    request.user = dora
    dora.is_verified = lambda: False  # what django-otp's middleware says before the code
    assert not admin.site.has_permission(request)
    dora.is_verified = lambda: True
    assert admin.site.has_permission(request)
    device = TOTPDevice.objects.get(user=dora)
    response = client.post("/account/two-factor/", {"code": code_for(device), "next": "/admin/"})
    assert response.url == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_admin_answers_a_signed_in_outsider_without_a_redirect_loop(client, alice):
    client.force_login(alice)
    response = client.get("/admin/", follow=True)
    assert response.status_code == 403


# --- 3. second-factor failures count per account, across sign-ins ----------------------------

def test_code_failures_survive_a_new_password_sign_in(client, alice, device, two_factor):
    sign_in(client, "alice")
    for _ in range(4):
        client.post("/account/two-factor/", {"code": wrong_code(device)})
    client.post("/account/logout/")
    assert sign_in(client, "alice").status_code == 302  # 4 failures: not locked yet
    response = client.post("/account/two-factor/", {"code": wrong_code(device)})
    assert "not valid" in response.content.decode()
    # Five failures in the window: the right code is refused, and so is the password.
    response = client.post("/account/two-factor/", {"code": code_for(device), "next": "/"})
    assert response.status_code == 200 and LOCKED in response.content.decode()
    client.post("/account/logout/")
    assert LOCKED in sign_in(client, "alice").content.decode()


def test_password_and_code_failures_share_one_lock_out(client, alice, device, two_factor):
    for _ in range(3):
        sign_in(client, "alice", "wrong")
    assert sign_in(client, "alice").status_code == 302
    for _ in range(2):
        client.post("/account/two-factor/", {"code": wrong_code(device)})
    response = client.post("/account/two-factor/", {"code": code_for(device)})
    assert LOCKED in response.content.decode()


def test_a_complete_sign_in_clears_the_failures(client, alice, device, two_factor):
    sign_in(client, "alice")
    for _ in range(4):
        client.post("/account/two-factor/", {"code": wrong_code(device)})
    response = client.post("/account/two-factor/", {"code": code_for(device), "next": "/"})
    assert response.status_code == 302
    client.post("/account/logout/")
    sign_in(client, "alice")
    for _ in range(4):
        client.post("/account/two-factor/", {"code": wrong_code(device)})
    assert "not valid" in client.post("/account/two-factor/",
                                      {"code": wrong_code(device)}).content.decode()
