"""Gateway pages: public reading, focal-point submission, Secretariat moderation."""

from __future__ import annotations

import datetime as dt
import json

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from sentinelle.analysis.disclosure import current_year, publication
from sentinelle.core.forms import add_validation_error
from sentinelle.core.roles import FOCAL_POINT, SECRETARIAT, require_secretariat, role_required
from sentinelle.gateway import exports, search, services
from sentinelle.gateway.filters import apply_filters, filter_choices
from sentinelle.gateway.forms import FORMS, ModerationForm, translation_form
from sentinelle.gateway.kinds import KINDS, get_entry_for_editor, get_entry_for_user, model_for
from sentinelle.gateway.models import EntryStatus
from sentinelle.gateway.statistics_search import statistics_hits

PAGE_SIZE = 25


def _lang() -> str:
    return (get_language() or "en").split("-")[0]


def home(request: HttpRequest) -> HttpResponse:
    counts = [(kind, model._meta.verbose_name_plural, model.objects.published().count())
              for kind, model in KINDS.items()]
    return render(request, "gateway/home.html", {"counts": counts})


def entry_list(request: HttpRequest, kind: str) -> HttpResponse:
    model = model_for(kind)
    qs = apply_filters(model, model.objects.published().select_related("state"), request.GET)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "gateway/list.html", {
        "kind": kind, "model_name": model._meta.verbose_name_plural, "page": page,
        "choices": filter_choices(model), "params": request.GET, "language": _lang()})


def detail(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    entry = get_entry_for_user(kind, pk, request.user)
    editable = services.can_edit(request.user, entry)
    return render(request, "gateway/detail.html", {
        "kind": kind, "entry": entry, "language": _lang(), "editable": editable,
        "history": services.history(entry) if editable else None,
        "moderation": ModerationForm(),
        "is_secretariat": request.user.is_authenticated and request.user.is_secretariat})


def _save(request, form, do) -> object | None:
    """Run a service call; its ValidationError lands on the form's fields."""
    try:
        return do()
    except ValidationError as exc:
        add_validation_error(form, exc)
    return None


@role_required(SECRETARIAT, FOCAL_POINT)
def create(request: HttpRequest, kind: str) -> HttpResponse:
    model = model_for(kind)
    form = FORMS[kind](request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        entry = _save(request, form, lambda: services.create_entry(
            request.user, model, form.cleaned_data))
        if entry is not None:
            messages.success(request, _("The draft was saved. Submit it for review when ready."))
            return redirect(entry)
    return render(request, "gateway/form.html", {
        "form": form, "kind": kind, "cancel": f"/gateway/{kind}/",
        "title": _("New entry: %(kind)s") % {"kind": model._meta.verbose_name}})


@role_required(SECRETARIAT, FOCAL_POINT)
def edit(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    entry = get_entry_for_editor(kind, pk, request.user)
    form = FORMS[kind](request.POST or None, instance=entry, user=request.user)
    if request.method == "POST" and form.is_valid():
        # The form wrote the cleaned values on the instance; the service saves and revises.
        saved = _save(request, form, lambda: services.update_entry(
            request.user, get_entry_for_editor(kind, pk, request.user), form.cleaned_data))
        if saved is not None:
            messages.success(request, _("The entry was saved."))
            return redirect(saved)
    return render(request, "gateway/form.html", {
        "form": form, "kind": kind, "cancel": entry.get_absolute_url(),
        "title": _("Edit: %(title)s") % {"title": entry.title_text}})


@role_required(SECRETARIAT, FOCAL_POINT)
def translate(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    entry = get_entry_for_editor(kind, pk, request.user)
    form = translation_form(entry, request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        language = data.pop("language")
        saved = _save(request, form, lambda: services.set_translation(
            request.user, entry, language, data))
        if saved is not None:
            messages.success(request, _("The translation was saved."))
            return redirect(saved)
    return render(request, "gateway/form.html", {
        "form": form, "kind": kind, "cancel": entry.get_absolute_url(),
        "title": _("Translate: %(title)s") % {"title": entry.title_text}})


@role_required(SECRETARIAT, FOCAL_POINT)
@require_POST
def moderate(request: HttpRequest, kind: str, pk: int, action: str) -> HttpResponse:
    # A Secretariat-only move is a role question: answered (403) before the entry is looked up,
    # so the answer is the same for the focal point's own entry, another State's and none.
    if services.secretariat_only(action):
        require_secretariat(request.user)
    entry = get_entry_for_editor(kind, pk, request.user)
    form = ModerationForm(request.POST)
    message = form.cleaned_data["message"] if form.is_valid() else ""
    try:
        # A Secretariat-only move asked by a focal point: PermissionDenied, the 403 page.
        services.transition(request.user, entry, action, message)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("The entry is now “%(status)s”.")
                         % {"status": entry.get_status_display()})
    return redirect(entry)


@role_required(SECRETARIAT, FOCAL_POINT)
def moderation(request: HttpRequest) -> HttpResponse:
    """The Secretariat's review queue; a focal point's own State's entries."""
    groups = []
    for kind, model in KINDS.items():
        qs = model.objects.editable_by(request.user).select_related("state")
        if request.user.is_secretariat:
            qs = qs.filter(status=EntryStatus.SUBMITTED)
        groups.append((kind, model._meta.verbose_name_plural, qs.order_by("-updated_at")[:100]))
    return render(request, "gateway/moderation.html", {"groups": groups})


def search_view(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")[:search.MAX_QUERY]
    hits = search.run(query, KINDS) if query.strip() else []
    figures = statistics_hits(query) if query.strip() else []
    return render(request, "gateway/search.html",
                  {"query": query, "hits": hits, "figures": figures})


def export_json(request: HttpRequest) -> HttpResponse:
    body = json.dumps({"generated": dt.datetime.now(dt.UTC).isoformat(),
                       "entries": exports.published_rows()}, ensure_ascii=False, indent=1)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="gateway.json"'
    return response


def export_csv(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(exports.to_csv(exports.published_rows()),
                            content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="gateway.csv"'
    return response


def statistics(request: HttpRequest) -> HttpResponse:
    """Public figures: the year's publication (analysis.disclosure), the same for everyone and
    the same as on every other public surface, so it can be cached and quoted."""
    try:
        year = int(request.GET.get("year", ""))
    except ValueError:
        year = current_year()
    if not 2000 <= year <= 2100:
        year = current_year()
    stats = publication(year)
    states = {state for model in KINDS.values()
              for state in model.objects.published().values_list("state_id", flat=True) if state}
    return render(request, "gateway/statistics.html", {
        "stats": stats, "year": year, "states_on_gateway": len(states),
        "years": range(current_year(), current_year() - 5, -1),
        "counts": [(model._meta.verbose_name_plural, model.objects.published().count())
                   for model in KINDS.values()]})
