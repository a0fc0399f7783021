from __future__ import annotations

import base64
import io

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Sum
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from sentinelle.core import audit, signin
from sentinelle.core.forms import ApiTokenForm, SignInForm, TokenCodeForm, client_address
from sentinelle.core.models import ApiToken, Job
from sentinelle.incidents.models import Category, Incident, Status


class SignInView(auth_views.LoginView):
    template_name = "core/login.html"
    form_class = SignInForm
    redirect_authenticated_user = True

    def form_valid(self, form):
        signin.clear(form.get_user().get_username())
        audit.record("signin.password", form.get_user(), actor=form.get_user(),
                     after={"address": client_address(self.request)})
        return super().form_valid(form)


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return "/"


@login_required
def two_factor(request: HttpRequest) -> HttpResponse:
    """Ask for the TOTP code; a user with no authenticator yet enrols one here first."""
    user = request.user
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    enrolling = device is None
    if enrolling:
        device, _created = TOTPDevice.objects.get_or_create(
            user=user, confirmed=False, defaults={"name": "authenticator"})
    form = TokenCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if signin.is_locked(user.get_username()):
            form.add_error("code", _("Too many failed sign-ins. Try again in a few minutes."))
        elif device.verify_token(form.cleaned_data["code"]):
            if enrolling:
                device.confirmed = True
                device.save(update_fields=["confirmed"])
                audit.record("otp.enrol", user, after={"device": device.pk})
            otp_login(request, device)
            signin.clear(user.get_username())
            return redirect(_safe_next(request))
        else:
            signin.record_failure(user.get_username(), client_address(request), "otp")
            form.add_error("code", _("This code is not valid. Check your device's clock."))
    context = {"form": form, "enrolling": enrolling, "next": _safe_next(request)}
    if enrolling:
        uri = device.config_url
        image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
        buffer = io.BytesIO()
        image.save(buffer)
        context["qr_svg"] = base64.b64encode(buffer.getvalue()).decode()
        context["secret"] = base64.b32encode(device.bin_key).decode().rstrip("=")
    return render(request, "core/two_factor.html", context)


def dashboard(request: HttpRequest) -> HttpResponse:
    """The home page, shaped by the role: what needs doing first, then the figures."""
    user = request.user
    visible = Incident.objects.for_user(user)
    # Aggregates over every submitted report are public; the reports themselves are not.
    submitted = Incident.objects.exclude(status__in=(Status.DRAFT, Status.WITHDRAWN))
    context: dict = {"by_category": (submitted.values("category__code")
                                     .annotate(n=Count("id"), uh=Sum("user_hours"))
                                     .order_by("category__position"))}
    if user.is_authenticated and user.is_focal_point:
        own = visible.filter(state_id=user.state_id)
        context["awaiting_answer"] = own.filter(status=Status.INFO_REQUESTED)
        context["drafts"] = own.filter(status=Status.DRAFT)
        context["recent"] = own.exclude(status=Status.DRAFT).select_related(
            "category", "state")[:10]
    elif user.is_authenticated and user.is_secretariat:
        context["to_acknowledge"] = visible.filter(status=Status.SUBMITTED).select_related(
            "state", "category")[:20]
        context["answered"] = visible.filter(status=Status.UNDER_ANALYSIS).select_related(
            "state", "category")[:20]
        context["counts"] = dict(visible.values_list("status").annotate(n=Count("id")))
    else:
        context["recent"] = visible.select_related("category", "state")[:10]
    labels = {c.code: c.label for c in Category.objects.all()}
    for row in context["by_category"]:
        row["label"] = labels.get(row["category__code"], row["category__code"])
    return render(request, "core/dashboard.html", context)


@login_required
def tokens(request: HttpRequest) -> HttpResponse:
    form = ApiTokenForm(request.POST or None)
    new_secret = None
    if request.method == "POST" and form.is_valid():
        token, new_secret = ApiToken.issue(request.user, **form.cleaned_data)
        audit.record("token.create", token, after={"name": token.name,
                                                   "read_only": token.read_only})
        form = ApiTokenForm()
    items = ApiToken.objects.filter(user=request.user)
    return render(request, "core/tokens.html",
                  {"form": form, "tokens": items, "new_secret": new_secret})


@login_required
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken.objects.filter(user=request.user), pk=pk)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit.record("token.revoke", token, before={"revoked_at": None},
                     after={"revoked_at": token.revoked_at})
        messages.success(request, _("The token was revoked."))
    return redirect("tokens")


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness probe; also the trivial view the API load benchmark compares against."""
    return JsonResponse({"status": "ok", "version": settings.SPECTACULAR_SETTINGS["VERSION"]})


@login_required
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A job's status; the page polls itself (htmx) until the job is finished."""
    job = get_object_or_404(Job.objects.for_user(request.user), pk=pk)
    template = "core/_job_status.html" if request.htmx else "core/job.html"
    return render(request, template, {"job": job})


@login_required
def job_output(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(Job.objects.for_user(request.user), pk=pk,
                            status=Job.Status.SUCCEEDED)
    if not job.output:
        raise Http404
    return FileResponse(job.output.open("rb"), as_attachment=True,
                        filename=job.output_name or f"job-{job.pk}")
