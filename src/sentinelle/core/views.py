from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Callable
from functools import wraps

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.plugins.otp_totp.models import default_key as totp_default_key

from sentinelle.core import audit, services, signin
from sentinelle.core.forms import ApiTokenForm, SignInForm, TokenCodeForm, client_address
from sentinelle.core.middleware import redirect_to_second_factor, second_factor_pending
from sentinelle.core.models import ApiToken, Job
from sentinelle.core.redirects import safe_next
from sentinelle.core.storage import file_response


class SignInView(auth_views.LoginView):
    template_name = "core/login.html"
    form_class = SignInForm
    redirect_authenticated_user = True

    def form_valid(self, form):
        user = form.get_user()
        # The failures are forgotten only when the sign-in is complete: clearing them on the
        # password alone would let someone who knows it guess codes without ever being locked.
        if not (settings.REQUIRE_2FA and user.needs_second_factor):
            signin.clear(user.get_username())
        audit.record("signin.password", user, actor=user,
                     after={"address": client_address(self.request)})
        return super().form_valid(form)


def admin_login(request: HttpRequest) -> HttpResponse:
    """Where the Django admin sends whoever it does not admit: to the one sign-in page, with its
    lock-out and second factor. No password is ever checked here."""
    target = safe_next(request, default=reverse("admin:index"))
    if request.user.is_authenticated:
        # Signed in (and, where required, verified: the middleware saw to that) but not an
        # administrator: the wrong role, who gets 403 (core/roles.py) rather than a loop back
        # to sign-in.
        if admin.site.has_permission(request):
            return redirect(target)
        raise PermissionDenied
    return redirect(f"{reverse('login')}?{urlencode({'next': target})}")


def verified_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The view needs a complete sign-in: the second factor too, where it is required.

    The middleware already enforces this; the decorator keeps pages that hand out credentials
    safe should that middleware's exemptions ever grow."""
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if second_factor_pending(request):
            return redirect_to_second_factor(request)
        return view(request, *args, **kwargs)
    return wrapper


_ENROLMENT_SESSION_KEY = "sentinelle_enrolment_secret"


def _own_enrolment_secret(request: HttpRequest, device: TOTPDevice) -> bool:
    """Give this session a secret no other session has seen; True when it had to be replaced.

    Anyone with the password of an account that has not enrolled yet reaches this page. Were the
    secret shared between sessions, they could copy it and wait for the owner to confirm it,
    then hold a working second factor; a fresh secret per session makes their copy useless."""
    digest = hashlib.sha256(device.key.encode()).hexdigest()
    if request.session.get(_ENROLMENT_SESSION_KEY) == digest:
        return False
    device.key = totp_default_key()
    device.save(update_fields=["key"])
    request.session[_ENROLMENT_SESSION_KEY] = hashlib.sha256(device.key.encode()).hexdigest()
    return True


@never_cache  # the enrolment page shows the secret
@login_required
def two_factor(request: HttpRequest) -> HttpResponse:
    """Ask for the TOTP code; a user with no authenticator yet enrols one here first."""
    user = request.user
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    enrolling = device is None
    replaced = False
    if enrolling:
        device, _created = TOTPDevice.objects.get_or_create(
            user=user, confirmed=False, defaults={"name": "authenticator"})
        replaced = _own_enrolment_secret(request, device)
    form = TokenCodeForm(request.POST or None)
    if request.method == "POST" and replaced:
        form.add_error("code", _("The secret to scan has changed: scan this QR code again."))
    elif request.method == "POST" and form.is_valid():
        if signin.is_locked(user.get_username()):
            form.add_error("code", _("Too many failed sign-ins. Try again in a few minutes."))
        elif device.verify_token(form.cleaned_data["code"]):
            if enrolling:
                services.confirm_enrolment(user, device)
                request.session.pop(_ENROLMENT_SESSION_KEY, None)
            otp_login(request, device)
            signin.clear(user.get_username())
            return redirect(safe_next(request))
        else:
            signin.record_failure(user.get_username(), client_address(request), "otp")
            form.add_error("code", _("This code is not valid. Check your device's clock."))
    context = {"form": form, "enrolling": enrolling, "next": safe_next(request)}
    if enrolling:
        uri = device.config_url
        image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
        buffer = io.BytesIO()
        image.save(buffer)
        context["qr_svg"] = base64.b64encode(buffer.getvalue()).decode()
        context["secret"] = base64.b32encode(device.bin_key).decode().rstrip("=")
    return render(request, "core/two_factor.html", context)


@never_cache  # the response may show a token's secret
@login_required
@verified_required
def tokens(request: HttpRequest) -> HttpResponse:
    form = ApiTokenForm(request.POST or None)
    new_secret = None
    if request.method == "POST" and form.is_valid():
        _token, new_secret = services.issue_token(request.user, **form.cleaned_data)
        form = ApiTokenForm()
    items = ApiToken.objects.filter(user=request.user)
    return render(request, "core/tokens.html",
                  {"form": form, "tokens": items, "new_secret": new_secret})


@login_required
@verified_required
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken.objects.filter(user=request.user), pk=pk)
    if services.revoke_token(token):
        messages.success(request, _("The token was revoked."))
    return redirect("tokens")


@login_required
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A job's status; the page polls itself (htmx) until the job is finished."""
    job = get_object_or_404(Job.objects.status_for_user(request.user), pk=pk)
    template = "core/_job_status.html" if request.htmx else "core/job.html"
    # Another's job: its status only, never its files, message or result.
    return render(request, template, {"job": job, "is_owner": job.owner_id == request.user.pk})


@login_required
def job_output(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(Job.objects.for_user(request.user), pk=pk,
                            status=Job.Status.SUCCEEDED)
    if not job.output:
        raise Http404
    return file_response(job.output, filename=job.output_name or f"job-{job.pk}")
