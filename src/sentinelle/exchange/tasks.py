"""The exchange app's task handlers (core/jobs.py runs them through Django's Tasks API): the
import job the API and the web UI start and the CLI runs in-process, and the federation run."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import ngettext

from sentinelle.core import jobs
from sentinelle.exchange.federation import FederationError, pull, push, resolve_token
from sentinelle.exchange.importer import import_records
from sentinelle.exchange.reading import open_records
from sentinelle.exchange.records import FormatError


@jobs.handler("import")
def run_import(job, progress) -> dict:
    params = job.params
    progress.total(job.input.size)
    with job.input.open("rb") as stream:
        try:
            fmt, records = open_records(stream, params.get("format", "auto"), job.input_name)
        except FormatError as exc:
            raise ValidationError(str(exc)) from None

        def advance(_count: int) -> None:
            progress.job.progress_done = stream.tell()
            progress.advance(0)

        try:
            summary = import_records(records, user=job.owner, default_tlp=params.get("tlp"),
                                     dry_run=bool(params.get("dry_run")),
                                     on_invalid=params.get("on_invalid") or "refuse",
                                     source_name=job.input_name,
                                     source_sha256=job.input_sha256, progress=advance)
        except FormatError as exc:
            raise ValidationError(str(exc)) from None
    progress.job.progress_done = job.input.size
    result = {"format": fmt, **summary.as_dict()}
    if not summary.succeeded:
        job.result = result
        first = summary.rejected[0]
        raise ValidationError(ngettext(
            "%(count)s item rejected; nothing was written. First: %(where)s: %(reason)s",
            "%(count)s items rejected; nothing was written. First: %(where)s: %(reason)s",
            summary.rejected_total) % {"count": summary.rejected_total, "where": first.where,
                                       "reason": first.reason})
    return result


@jobs.handler("federate")
def run_federation(job, progress) -> dict:
    """A scheduled or requested federation run: params direction, remote, api_root,
    collection, optional sharing_group, token_file or token_env."""
    params = dict(job.params)
    run = pull if params.get("direction") == "pull" else push
    kwargs = {k: params[k] for k in ("remote", "api_root", "collection") if k in params}
    if run is pull and params.get("on_invalid"):
        kwargs["on_invalid"] = params["on_invalid"]
    if run is push and params.get("sharing_group"):
        kwargs["sharing_group"] = params["sharing_group"]
    try:
        result = run(user=job.owner, token=resolve_token(params), **kwargs)
    except (FederationError, OSError) as exc:
        raise ValidationError(str(exc)) from None
    return result.as_dict()
