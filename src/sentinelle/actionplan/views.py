"""The action plan pages: everyone signed in reads; the Secretariat edits."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from sentinelle.actionplan import metrics, services
from sentinelle.actionplan.evaluation import evaluate
from sentinelle.actionplan.forms import ActionForm, IndicatorForm, ProgressUpdateForm
from sentinelle.actionplan.models import Action, Indicator, ProgressUpdate
from sentinelle.core.roles import SECRETARIAT, role_required
from sentinelle.core.storage import file_response


def _year(request) -> int:
    try:
        year = int(request.GET.get("year", ""))
    except ValueError:
        return dt.date.today().year
    return year if 2000 <= year <= 2100 else dt.date.today().year


def _evaluate(request, year: int):
    """The plan for ``year`` with the figures the reader may see (``metrics.stats_for``)."""
    return evaluate(year, computed=metrics.calculator(metrics.stats_for(request.user)))


@login_required
def plan(request: HttpRequest) -> HttpResponse:
    year = _year(request)
    evaluation = _evaluate(request, year)
    return render(request, "actionplan/plan.html", {
        "evaluation": evaluation, "year": year,
        "years": range(dt.date.today().year, dt.date.today().year - 5, -1),
        "can_edit": request.user.is_secretariat})


@login_required
def action_detail(request: HttpRequest, code: str) -> HttpResponse:
    action = get_object_or_404(Action, code=code)
    year = _year(request)
    evaluation = _evaluate(request, year)
    result = next(r for r in evaluation.actions if r.action.pk == action.pk)
    return render(request, "actionplan/action.html", {
        "action": action, "result": result, "year": year, "evaluation": evaluation,
        "can_edit": request.user.is_secretariat})


@role_required(SECRETARIAT)
def action_edit(request: HttpRequest, code: str | None = None) -> HttpResponse:
    action = get_object_or_404(Action, code=code) if code else None
    # Taken before the form is validated: validating writes the new values into the instance.
    before = services.snapshot(action) if action else None
    form = ActionForm(request.POST or None, instance=action)
    if request.method == "POST" and form.is_valid():
        action = services.save_action(request.user, form.save(commit=False), before)
        messages.success(request, _("The action was saved."))
        return redirect(action)
    return render(request, "actionplan/form.html", {
        "form": form, "title": _("Edit the action") if action else _("New action"),
        "cancel": action.get_absolute_url() if action else "/action-plan/"})


def _indicator_or_404(code: str, **filters) -> Indicator:
    # A code from the path may hold NUL (%00), which no code has and PostgreSQL cannot compare.
    if "\x00" in code:
        raise Http404
    return get_object_or_404(Indicator.objects.select_related("action"), code=code, **filters)


@role_required(SECRETARIAT)
def indicator_edit(request: HttpRequest, code: str, indicator: str | None = None
                   ) -> HttpResponse:
    action = get_object_or_404(Action, code=code)
    instance = _indicator_or_404(indicator, action=action) if indicator \
        else Indicator(action=action)
    before = services.snapshot(instance) if indicator else None
    form = IndicatorForm(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        services.save_indicator(request.user, form.save(commit=False), before)
        messages.success(request, _("The indicator was saved."))
        return redirect(action)
    return render(request, "actionplan/form.html", {
        "form": form, "action": action,
        "title": _("Edit the indicator") if indicator else _("New indicator"),
        "cancel": action.get_absolute_url()})


@role_required(SECRETARIAT)
def update_create(request: HttpRequest, indicator: str) -> HttpResponse:
    instance = _indicator_or_404(indicator)
    form = ProgressUpdateForm(request.POST or None, request.FILES or None,
                              initial={"date": dt.date.today()})
    if request.method == "POST" and form.is_valid():
        services.record_update(request.user, instance, form.save(commit=False))
        messages.success(request, _("The progress update was recorded."))
        return redirect(instance.action)
    return render(request, "actionplan/form.html", {
        "form": form, "action": instance.action, "multipart": True,
        "title": _("Progress update for %(indicator)s") % {"indicator": instance.name},
        "cancel": instance.action.get_absolute_url()})


@login_required
def update_evidence(request: HttpRequest, pk: int) -> HttpResponse:
    update = get_object_or_404(ProgressUpdate, pk=pk)
    if not update.evidence_file:
        raise Http404
    response = file_response(update.evidence_file,
                             filename=update.evidence_name or f"evidence-{update.pk}")
    response["Content-Security-Policy"] = "sandbox"
    return response
