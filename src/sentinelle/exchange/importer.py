"""Import parsed records into the platform: one transaction, all or nothing.

Reports are created through incidents.services (validated, versioned, audited like any other
report). A record the importing State already holds under its STIX id is *merged*: left as it
is, or amended into a new version when its `modified` time is newer.

Identity never crosses States (issue 11, finding 8). Ids derived from a format's own id (IODEF
IncidentID, VERIS, X-ARF, ARF, OONI, content) are derived within the importing State's
namespace, and *sealed* to it: the uuid carries the State's code and a check (`seal`), so
anyone can tell whose namespace an id is in. An explicit STIX id (STIX, MISP uuid, the CSV
stix_id column) sealed to another State is always moved into the importer's own namespace,
whether or not that State holds it: nobody can probe or squat another State's derived ids, even
by computing them and posting them as STIX. Any other explicit id is kept, so federation
round-trips; if another State already holds it, the record gets an id in the importer's own
namespace instead. Lookups only ever match the importer's own rows.

Standalone indicators are written in batches, since feeds carry hundreds of thousands of them.
By default (on_invalid="refuse") any rejection rolls the whole import back, and the summary says
what would have been created. With on_invalid="skip" every valid item is written and each
rejected one is listed with its place and reason; a report is still never imported half: one
whose own content fails, or that is made of a source object that was rejected
(ReportRecord.refs, Rejection.ref), is refused whole, inside its own savepoint.

An indicator the State already holds is updated in place when the incoming one is newer (STIX
`modified`), and dated as added again so that TAXII clients of this instance fetch it anew.

Importing *for* a State (federation, issue 16): `route` says, record by record, which Member
State a record is filed under, or why it is skipped. A record filed for State X follows every
rule above as if X had imported it: its ids are derived, sealed and looked up in X's namespace,
it merges only into X's own rows, by `modified`. Its reporter is the importing user when X is
the user's own State, else X's import account (accounts.state_account): a report's reporter is,
everywhere in the platform (workflow, receipts, notifications), a focal point of the report's
State, and the pulling focal point of another State must gain no rights over X's report. The
audit entry of the import names the pulling user as actor and says how many records went to
each State, and which were skipped and why.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Callable, Iterable

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.validators import ProhibitNullCharactersValidator
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from sentinelle.core import audit
from sentinelle.core.models import MemberState, SharingGroup
from sentinelle.exchange import indicator_rows
from sentinelle.exchange.identity import (
    MAX_REMAP,
    candidate_ids,
    own_namespace_id,
    sealed_code,
    stable_id,
    stix_uuid,
)
from sentinelle.exchange.import_summary import ON_INVALID, ImportSummary
from sentinelle.exchange.indicator_rows import Row
from sentinelle.exchange.models import SharedIndicator
from sentinelle.exchange.reading import read_ahead
from sentinelle.exchange.records import IndicatorRecord, Rejection, ReportRecord, holds_nul
from sentinelle.incidents import fields, services, workflow
from sentinelle.incidents.indicators import IndicatorError, normalise
from sentinelle.incidents.models import TLP, Evidence, Incident, Severity

INDICATOR_BATCH = 1000
DEFAULT_CATEGORY = "other"
DEFAULT_RSIT = "other:undetermined"


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    # utcoffset() is None is timezone.is_naive(), without its call (four per indicator).
    if value is not None and value.utcoffset() is None:
        return timezone.make_aware(value, dt.UTC)
    return value


class _Importer:
    """Files records under one State, `state`, acting as `user` (a focal point of it)."""

    def __init__(self, user, default_tlp: str | None, summary: ImportSummary,
                 submit: bool = True, channel: str = "import",
                 state: MemberState | None = None,
                 rejected_refs: dict[str, str] | None = None, pulled: bool = False):
        self.user, self.default_tlp, self.summary, self.submit = user, default_tlp, summary, submit
        self.pulled = pulled
        self.channel = channel
        self.skip = summary.on_invalid == "skip"
        # Source id of every rejected object -> where it was: a report made of one is refused.
        # Shared by the importers of one import (one per State a record is filed under).
        self.rejected_refs: dict[str, str] = {} if rejected_refs is None else rejected_refs
        self.state = state or user.state
        self.state_id = self.state.pk
        self.pending: list[tuple[str, str | None, Row]] = []
        self.stored_files: list[str] = []
        self.groups: dict[str, SharingGroup | None] = {}
        self.reports_by_ref: dict[str, Incident] = {}
        self.new_report: Incident | None = None   # the report being created, if any
        self.scope = self.state.alpha2
        self.user_id = user.pk   # user.pk is a property (Model._get_pk_val): once per import
        self.tlps: dict[str | None, str] = {}   # _tlp's answers
        # Reference rows by code, each looked up once: the writing is done under SQLite's
        # only write lock (issue 20), and a feed's reports name the same few codes.
        self.references: dict[tuple[Callable, str], object] = {}

    def _ids(self, kind: str, record: ReportRecord | IndicatorRecord,
             fallback: str) -> tuple[str, str | None]:
        """(primary id, the unscoped id earlier versions derived, if any)."""
        external = record.external_id
        explicit = stix_uuid(kind, external)
        if explicit is not None:
            # What the two stable_id calls below give for an explicit STIX id, with one parse
            # of its uuid and one seal check (per indicator of a feed).
            owner = sealed_code(explicit)
            if owner is not None and owner != self.scope:
                return own_namespace_id(kind, self.scope, external), external
            return external, None
        primary = stable_id(kind, record.source_format, external, fallback, scope=self.scope)
        legacy = stable_id(kind, record.source_format, external, fallback)
        return primary, (legacy if legacy != primary else None)

    def _identify_report(self, primary: str, legacy: str | None) -> tuple[Incident | None, str]:
        """The importer's own report under this identity, or the id a new one gets.

        One query whatever exists: the rows found are only compared with the importer's
        State, and another State's row only moves the new id along the chain."""
        chain = candidate_ids("incident", self.scope, primary)
        wanted = [*chain, legacy] if legacy else chain
        holders = dict(Incident.objects.filter(stix_id__in=wanted)
                       .values_list("stix_id", "state_id"))
        for stix_id in wanted:
            if holders.get(stix_id) == self.state_id:
                return Incident.objects.get(stix_id=stix_id), stix_id
        for stix_id in chain:
            if stix_id not in holders:
                return None, stix_id
        raise ValidationError(_("this item's identifier cannot be used; give it another id"))

    def _tlp(self, value: str | None) -> str:
        known = self.tlps.get(value) if value is None or type(value) is str else None
        if known is not None:   # a feed names the same few levels: once each (issue 17)
            return known
        tlp = (value or self.default_tlp or TLP.AMBER).lower().removeprefix("tlp:")
        tlp = {"white": TLP.CLEAR}.get(tlp, tlp)
        if tlp not in _TLP_VALUES:
            raise ValidationError(_("unknown TLP “%(value)s”") % {"value": value})
        if (value is None or type(value) is str) and len(self.tlps) < 64:
            self.tlps[value] = tlp
        return tlp

    def _group(self, name: str | None) -> SharingGroup | None:
        if not name:
            return None
        if name not in self.groups:
            # Only a group the importing State belongs to: any other would share into a group
            # the State is not in, and an answer that differs for other groups' names would
            # tell which groups exist.
            self.groups[name] = SharingGroup.objects.filter(
                name=name, states=self.state_id).first()
        if self.groups[name] is None:
            raise ValidationError(_("unknown sharing group “%(name)s”") % {"name": name})
        return self.groups[name]

    def _reference(self, parse: Callable, code: str):  # noqa: ANN202 - parse's own type
        """parse(code), remembered when it succeeds (a refusal is raised each time)."""
        if type(code) is not str:   # whatever a parser let through: parse() answers it
            return parse(code)
        key = (parse, code)
        if key not in self.references:
            self.references[key] = parse(code)
        return self.references[key]

    def _cleaned(self, record: ReportRecord) -> dict:
        started = _aware(record.started_at or record.detected_at or record.ended_at)
        if started is None:
            raise ValidationError(_("no start, detection or end time"))
        indicators = fields.parse_indicators(record.indicators, label="indicator")
        return {
            "title": (record.title or "").strip()[:200] or "(untitled)",
            "category": self._reference(fields.parse_category,
                                        record.category or DEFAULT_CATEGORY),
            "rsit_type": self._reference(fields.parse_rsit, record.rsit or DEFAULT_RSIT),
            "tlp": self._tlp(record.tlp),
            "severity": record.severity if record.severity in Severity.values
            else Severity.MEDIUM,
            "started_at": started,
            "ended_at": _aware(record.ended_at),
            "detected_at": _aware(record.detected_at),
            "affected_services": fields.parse_services(record.affected_services),
            "users_affected": record.users_affected,
            "alleged_origin_state": self._reference(fields.parse_state,
                                                    record.alleged_origin_state)
            if record.alleged_origin_state else None,
            "description": record.description or record.title or "",
            "narrative_language": record.narrative_language or "en",
            "consent_to_name": False,
            "indicators": indicators,
            "named_analysts": [],
        }

    def reject(self, rejection: Rejection) -> None:
        self.summary.add_rejection(rejection)
        if rejection.ref and self.skip:   # all or nothing refuses the file whatever the id
            self.rejected_refs.setdefault(rejection.ref, rejection.where)

    def report(self, record: ReportRecord) -> None:
        if holds_nul(record):   # PostgreSQL text cannot: refused, not a DataError for the feed
            self.reject(Rejection(record.where, str(ProhibitNullCharactersValidator.message),
                                  ref=record.external_id))
            return
        if not self.skip:
            self._report(record)
            return
        missing = next((ref for ref in record.refs if ref in self.rejected_refs), None)
        if missing is not None:
            self.reject(Rejection(record.where, _(
                "report refused whole: it includes %(ref)s, rejected at %(where)s") % {
                "ref": missing, "where": self.rejected_refs[missing]}, ref=record.external_id))
            return
        # A savepoint per report: a report refused after some of it was written (its
        # evidence, say) leaves nothing behind while the rest of the import stays.
        rejected, files = self.summary.rejected_count, len(self.stored_files)
        counts = (self.summary.reports_created, len(self.summary.created_ids))
        self.new_report = None
        with transaction.atomic():
            self._report(record)
            if self.summary.rejected_count > rejected:
                if self.new_report is not None:   # files stored before the step that failed
                    self.stored_files.extend(
                        name for name in Evidence.objects.filter(incident=self.new_report)
                        .values_list("file", flat=True) if name not in self.stored_files)
                transaction.set_rollback(True)
        if self.summary.rejected_count > rejected:
            for name in self.stored_files[files:]:
                default_storage.delete(name)
            del self.stored_files[files:]
            self.summary.reports_created = counts[0]
            del self.summary.created_ids[counts[1]:]

    def _report(self, record: ReportRecord) -> None:
        fallback = f"{record.title}|{record.started_at}|{record.description}"
        primary, legacy = self._ids("incident", record, fallback)
        try:
            cleaned = self._cleaned(record)
            group = self._group(record.sharing_group)
            existing, stix_id = self._identify_report(primary, legacy)
            if existing is not None:
                self._merge(existing, record, cleaned)
                incident = existing
            else:
                incident = services.create_report(self.user, cleaned, submit=self.submit,
                                                  stix_id=stix_id, sharing_group=group,
                                                  channel=self.channel)
                self.new_report = incident
                self.summary.reports_created += 1
                self.summary.created_ids.append(incident.pk)
                for attachment in record.attachments:
                    upload = SimpleUploadedFile(attachment.name, attachment.content)
                    evidence = services.attach_evidence(incident, self.user, upload,
                                                        attachment.description)
                    self.stored_files.append(evidence.file.name)
        except ValidationError as exc:
            self.reject(Rejection(record.where, "; ".join(exc.messages),
                                  ref=record.external_id))
            return
        if record.external_id:
            self.reports_by_ref[record.external_id] = incident

    def _merge(self, existing: Incident, record: ReportRecord, cleaned: dict) -> None:
        modified = _aware(record.modified)
        if modified is None or modified <= existing.updated_at:
            self.summary.reports_merged += 1
            return
        if self.pulled and existing.status not in workflow.AMENDABLE:
            # Closed (withdrawn, a duplicate) here: its State decided so, and a remote's newer
            # version cannot reopen it. Refusing it instead would refuse every later pull of
            # the remote, and tell a puller of another State that the report is closed.
            self.summary.reports_merged += 1
            return
        changes = {k: v for k, v in cleaned.items()
                   if k not in ("named_analysts", "consent_to_name")}
        current = services.current_content(existing)
        if self.pulled and _TLP_RANK[changes["tlp"]] < _TLP_RANK[current["tlp"]]:
            # A remote never widens the audience of a report held here: only its State does
            # (federation.pull). The newer content is taken, under the TLP the State chose.
            changes["tlp"] = current["tlp"]
            self.summary.tlp_kept += 1
        if services.snapshot({**current, **changes}) == services.snapshot(current):
            self.summary.reports_merged += 1
            return
        services.amend_report(existing, self.user, changes,
                              note=f"Imported update ({record.source_format})")
        self.summary.reports_updated += 1

    def indicator(self, record: IndicatorRecord) -> None:
        try:
            value = record.value
            if not (record.type == "ipv4" and isinstance(value, str)
                    and _DOTTED_QUAD.fullmatch(value)):
                value = normalise(record.type, value)   # else already what it would return
            # The texts stored as they are (holds_nul() is too slow for every indicator).
            texts = (value, record.pattern, record.name, record.description, *record.labels)
            if any(isinstance(text, str) and "\x00" in text for text in texts):
                raise ValidationError(ProhibitNullCharactersValidator.message)
            tlp = self._tlp(record.tlp)
        except (IndicatorError, ValidationError) as exc:
            reason = exc.messages[0] if isinstance(exc, ValidationError) else str(exc)
            self.reject(Rejection(record.where, f"{record.type}: {reason}",
                                  ref=record.origin or record.external_id))
            return
        stix_id, legacy = self._ids("indicator", record, f"{record.type}:{value}")
        incident = self.reports_by_ref.get(record.report_ref) if record.report_ref else None
        modified = _aware(record.modified) or timezone.now()
        self.pending.append((record.where, legacy, Row.of(
            stix_id, self.state_id, self.user_id, record.source_format, record.type, value,
            record.pattern or "", record.name[:300], record.description, list(record.labels),
            tlp, incident.pk if incident is not None else None, _aware(record.valid_from),
            _aware(record.valid_until), modified, modified)))
        if len(self.pending) >= INDICATOR_BATCH:
            self.flush()

    def flush(self) -> None:
        """Write a batch of indicators: those the importer's State already holds (by id, or
        by the unscoped id of earlier versions) are merged (updated when the incoming one is
        newer), the others created; an id held by another State moves along the importer's
        own chain, as for reports."""
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        unique: dict[str, tuple[str, str | None, Row]] = {}
        for where, legacy, item in batch:
            unique.setdefault(item.stix_id, (where, legacy, item))
        chains = {primary: [primary] for primary in unique}
        fresh: list[Row] = []
        held: dict[str, Row] = {}      # the State's own row -> incoming version
        taken: set[str] = set()
        for depth in range(MAX_REMAP + 1):
            wanted = {chain[-1] for chain in chains.values()}
            if depth == 0:
                wanted |= {legacy for _where, legacy, _item in unique.values() if legacy}
            holders = indicator_rows.holders(wanted)
            moved: dict[str, list[str]] = {}
            for primary, chain in chains.items():
                _where, legacy, item = unique[primary]
                if holders.get(chain[-1]) == self.state_id:
                    held[chain[-1]] = item                       # merged
                    continue
                if depth == 0 and legacy and holders.get(legacy) == self.state_id:
                    held[legacy] = item
                    continue
                if chain[-1] not in holders and chain[-1] not in taken:
                    item.stix_id = chain[-1]
                    taken.add(item.stix_id)
                    fresh.append(item)
                    continue
                moved[primary] = [*chain, own_namespace_id("indicator", self.scope, chain[-1])]
            chains = moved
            if not chains:
                break
        for primary in chains:   # only a deliberate squat of the whole chain ends here
            self.reject(Rejection(unique[primary][0], _(
                "this item's identifier cannot be used; give it another id")))
        indicator_rows.create(fresh, timezone.now, INDICATOR_BATCH)
        updated = self._update_newer(held)
        self.summary.indicators_created += len(fresh)
        self.summary.indicators_updated += updated
        self.summary.indicators_merged += len(batch) - len(fresh) - len(chains) - updated

    _UPDATED = ("type", "value", "pattern", "name", "description", "labels", "tlp",
                "valid_from", "valid_until", "modified", "added_at")

    def _update_newer(self, held: dict[str, Row]) -> int:
        """Bring the State's own indicators up to the incoming version when it is newer (same
        id, later `modified`): a producer's correction reaches every instance that pulls it.
        The row is dated as added now, as TAXII dates each new version of an object."""
        if not held:
            return 0
        now = timezone.now()
        changed = []
        for row in SharedIndicator.objects.filter(stix_id__in=list(held),
                                                  state_id=self.state_id):
            item = held[row.stix_id]
            if item.modified is None or item.modified <= row.modified:
                continue
            if self.pulled and _TLP_RANK[item.tlp] < _TLP_RANK[row.tlp]:
                item.tlp = row.tlp          # as for reports (_merge): never loosened by a pull
                self.summary.tlp_kept += 1
            for name in self._UPDATED:
                setattr(row, name, getattr(item, name))
            row.added_at = now
            changed.append(row)
        SharedIndicator.objects.bulk_update(changed, self._UPDATED, batch_size=INDICATOR_BATCH)
        return len(changed)


_TLP_RANK = {level: rank for rank, level in enumerate(TLP.values)}   # CLEAR ... RED
# TLP.values builds a new list on every call (Django's ChoicesType): once per indicator showed.
_TLP_VALUES = frozenset(TLP.values)
# An IPv4 address already in the form normalise() returns (str(IPv4Address)): four decimal
# bytes, no leading zero, ASCII digits only. Most feeds are made of them; the rest go through
# normalise (tests/exchange/test_import_copy.py compares both on many strings).
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
_DOTTED_QUAD = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}")


Route = Callable[[ReportRecord | IndicatorRecord], "MemberState | str | None"]


def import_records(records: Iterable, *, user, default_tlp: str | None = None,
                   dry_run: bool = False, submit: bool = True, source_name: str = "",
                   source_sha256: str = "", on_invalid: str = "refuse",
                   channel: str = "import",
                   progress: Callable[[int], None] | None = None,
                   for_state: MemberState | None = None,
                   route: Route | None = None, pulled: bool = False) -> ImportSummary:
    """Import everything or nothing (on_invalid="refuse": with a rejection or dry_run nothing
    stays written), or every valid item (on_invalid="skip"; rejections listed in the summary).
    `channel` is what the reports created are recorded as having come through (Incident.channel:
    "import" for a file, "federation" for TAXII).

    Every record is filed under the user's State, or `for_state`, or where `route` says: a
    MemberState, None for the default, or a string saying why the record is skipped (see the
    module docstring: importing for a State). `pulled` (a federation pull: a remote's records,
    not the State's own) changes two rules of the merge: an update never loosens the TLP of a
    report or an indicator already held (the newer content is taken under the TLP held here,
    counted in `tlp_kept`), and a report closed, withdrawn or a duplicate here is left as it is."""
    if on_invalid not in ON_INVALID:
        raise ValueError(f"on_invalid must be one of {ON_INVALID}, not {on_invalid!r}")
    if not (user.is_authenticated and user.is_focal_point):
        raise ValidationError(
            _("Imports are made by a Member State's focal point."))
    summary = ImportSummary(dry_run=dry_run, on_invalid=on_invalid)
    default = for_state or user.state
    importers: dict[int, _Importer] = {}
    rejected_refs: dict[str, str] = {}

    def importer_for(state: MemberState) -> _Importer:
        if state.pk not in importers:
            from sentinelle.exchange.accounts import state_account

            actor = user if state.pk == user.state_id else state_account(state)
            importers[state.pk] = _Importer(actor, default_tlp, summary, submit=submit,
                                            channel=channel, state=state,
                                            rejected_refs=rejected_refs, pulled=pulled)
        return importers[state.pk]

    records, progress = read_ahead(records, progress)
    stored: list[str] = []
    try:
        # The audit entries of the whole import are chained together as it ends: the chain's
        # lock (core/audit.py, held to the commit: every audited writer waits on it) is taken
        # then, not at the first report of a file whose reports come first.
        with transaction.atomic(), audit.batch():
            try:
                with indicator_rows.streaming():   # COPY beside the parsing (PostgreSQL)
                    _read(records, importer_for, default, route, summary, progress)
                    for importer in list(importers.values()):
                        importer.flush()
            except BaseException:
                stored.extend(_stored_files(importers.values(), summary.created_ids))
                raise
            if not summary.written:
                # Rolled back by the exception; audit.batch() writes nothing on the way out
                # (a rollback flag instead would leave it writing in a doomed transaction).
                raise _NothingStays
            _record_import(summary, source_name, source_sha256)
    except _NothingStays:
        pass
    except BaseException:
        # A file that breaks half way (FormatError from a truncated input, any error): the
        # transaction is rolled back, and the evidence files stored before must go with it.
        _delete_files(stored or _stored_files(importers.values(), []))
        summary.created_ids = []
        raise
    if not summary.written:
        # Evidence files were stored before the rollback; nothing may stay behind.
        _delete_files(_stored_files(importers.values(), []))
        summary.created_ids = []
    return summary


def _read(records: Iterable, importer_for: Callable[[MemberState], _Importer],
          default: MemberState, route: Route | None, summary: ImportSummary,
          progress: Callable[[int], None] | None) -> None:
    last: tuple[MemberState | None, _Importer | None] = (None, None)   # the previous record's
    for record in records:
        if isinstance(record, Rejection):
            importer_for(default).reject(record)
        elif isinstance(record, ReportRecord | IndicatorRecord):
            state = route(record) if route is not None else None
            if isinstance(state, str):
                summary.skipped.append(Rejection(record.where, state))
            else:
                state = state or default
                importer = last[1] if state is last[0] else importer_for(state)
                last = (state, importer)
                if isinstance(record, IndicatorRecord):
                    importer.indicator(record)
                else:
                    importer.report(record)
                summary.filed_under[state.alpha2] = summary.filed_under.get(state.alpha2, 0) + 1
        if progress is not None:
            progress(1)


class _NothingStays(Exception):  # noqa: N818 - a signal, not an error
    """A dry run, or an import refused whole: its transaction is rolled back."""


def _record_import(summary: ImportSummary, source_name: str, source_sha256: str) -> None:
    """Inside the import's transaction, once something stays written: its audit entry."""
    after = {k: v for k, v in summary.as_dict().items()
             if k not in ("rejected", "created_ids")}
    if source_sha256:   # the uploaded file itself is removed when its job ends
        after["sha256"] = source_sha256
    if summary.rejected:   # skip: what was left out is part of what happened
        after["rejected"] = summary.rejected_list()
    audit.record("exchange.import", (source_name or "import")[:64], object_type="import",
                 after=after)


def _stored_files(importers: Iterable[_Importer], created_ids: list[int]) -> list[str]:
    """Every evidence file the importers stored; with `created_ids`, before a failed import is
    rolled back, also those of its reports' rows (a step may have stored one then failed)."""
    names = [name for importer in importers for name in importer.stored_files]
    if created_ids:
        # A broken transaction (a database error) cannot answer: the names known suffice.
        with contextlib.suppress(Exception), transaction.atomic():
            names += Evidence.objects.filter(incident__in=created_ids).values_list(
                "file", flat=True)
    return list(dict.fromkeys(names))


def _delete_files(names: Iterable[str]) -> None:
    for name in names:
        default_storage.delete(name)
