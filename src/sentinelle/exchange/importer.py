"""Import parsed records into the platform: one transaction, all or nothing.

Reports are created through incidents.services (validated, versioned, audited like any other
report). A record already known by its STIX id is *merged*: left as it is, or amended into a new
version when its `modified` time is newer. Standalone indicators are written in batches, since
feeds carry hundreds of thousands of them. Any rejection rolls the whole import back, and the
summary says what would have been created.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from sentinelle.core import audit
from sentinelle.core.models import SharingGroup
from sentinelle.exchange.models import SharedIndicator
from sentinelle.exchange.records import IndicatorRecord, Rejection, ReportRecord
from sentinelle.incidents import fields, services
from sentinelle.incidents.indicators import IndicatorError, normalise
from sentinelle.incidents.models import TLP, Incident, Severity

# Fixed namespace: the same source id gives the same STIX id on every instance.
SENTINELLE_NAMESPACE = uuid.UUID("6f1b9d1e-5a4c-4d55-9a34-8c2f0f6c2b71")
INDICATOR_BATCH = 1000
DEFAULT_CATEGORY = "other"
DEFAULT_RSIT = "other:undetermined"


@dataclass
class ImportSummary:
    dry_run: bool = False
    reports_created: int = 0
    reports_merged: int = 0
    reports_updated: int = 0
    indicators_created: int = 0
    indicators_merged: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    created_ids: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.rejected

    @property
    def written(self) -> bool:
        return self.ok and not self.dry_run

    def as_dict(self) -> dict:
        data = asdict(self)
        data["rejected"] = [{"where": r.where, "reason": r.reason} for r in self.rejected[:1000]]
        data["rejected_count"] = len(self.rejected)
        data["written"] = self.written
        return data


def stable_id(kind: str, source_format: str, external_id: str | None, fallback: str) -> str:
    """The record's own STIX id, or one derived from its source id (or its content)."""
    if external_id and external_id.startswith(f"{kind}--"):
        try:
            uuid.UUID(external_id.split("--", 1)[1])
            return external_id
        except ValueError:
            pass
    key = f"{source_format}:{external_id}" if external_id else f"content:{fallback}"
    return f"{kind}--{uuid.uuid5(SENTINELLE_NAMESPACE, key)}"


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and timezone.is_naive(value):
        return timezone.make_aware(value, dt.UTC)
    return value


class _Importer:
    def __init__(self, user, default_tlp: str | None, summary: ImportSummary,
                 submit: bool = True):
        self.user, self.default_tlp, self.summary, self.submit = user, default_tlp, summary, submit
        self.pending: list[SharedIndicator] = []
        self.stored_files: list[str] = []
        self.groups: dict[str, SharingGroup | None] = {}
        self.reports_by_ref: dict[str, Incident] = {}

    def _tlp(self, value: str | None) -> str:
        tlp = (value or self.default_tlp or TLP.AMBER).lower().removeprefix("tlp:")
        tlp = {"white": TLP.CLEAR}.get(tlp, tlp)
        if tlp not in TLP.values:
            raise ValidationError(_("unknown TLP “%(value)s”") % {"value": value})
        return tlp

    def _group(self, name: str | None) -> SharingGroup | None:
        if not name:
            return None
        if name not in self.groups:
            self.groups[name] = SharingGroup.objects.filter(name=name).first()
        if self.groups[name] is None:
            raise ValidationError(_("unknown sharing group “%(name)s”") % {"name": name})
        return self.groups[name]

    def _cleaned(self, record: ReportRecord) -> dict:
        started = _aware(record.started_at or record.detected_at or record.ended_at)
        if started is None:
            raise ValidationError(_("no start, detection or end time"))
        indicators = fields.parse_indicators(record.indicators, label="indicator")
        return {
            "title": (record.title or "").strip()[:200] or "(untitled)",
            "category": fields.parse_category(record.category or DEFAULT_CATEGORY),
            "rsit_type": fields.parse_rsit(record.rsit or DEFAULT_RSIT),
            "tlp": self._tlp(record.tlp),
            "severity": record.severity if record.severity in Severity.values
            else Severity.MEDIUM,
            "started_at": started,
            "ended_at": _aware(record.ended_at),
            "detected_at": _aware(record.detected_at),
            "affected_services": fields.parse_services(record.affected_services),
            "users_affected": record.users_affected,
            "alleged_origin_state": fields.parse_state(record.alleged_origin_state)
            if record.alleged_origin_state else None,
            "description": record.description or record.title or "",
            "narrative_language": record.narrative_language or "en",
            "consent_to_name": False,
            "indicators": indicators,
            "named_analysts": [],
        }

    def report(self, record: ReportRecord) -> None:
        fallback = f"{record.title}|{record.started_at}|{record.description}"
        stix_id = stable_id("incident", record.source_format, record.external_id, fallback)
        try:
            cleaned = self._cleaned(record)
            group = self._group(record.sharing_group)
            existing = Incident.objects.filter(stix_id=stix_id).first()
            if existing is not None:
                self._merge(existing, record, cleaned)
                incident = existing
            else:
                incident = services.create_report(self.user, cleaned, submit=self.submit,
                                                  stix_id=stix_id, sharing_group=group)
                self.summary.reports_created += 1
                self.summary.created_ids.append(incident.pk)
                for attachment in record.attachments:
                    upload = SimpleUploadedFile(attachment.name, attachment.content)
                    evidence = services.attach_evidence(incident, self.user, upload,
                                                        attachment.description)
                    self.stored_files.append(evidence.file.name)
        except ValidationError as exc:
            self.summary.rejected.append(Rejection(record.where, "; ".join(exc.messages)))
            return
        if record.external_id:
            self.reports_by_ref[record.external_id] = incident

    def _merge(self, existing: Incident, record: ReportRecord, cleaned: dict) -> None:
        if existing.state_id != self.user.state_id:
            raise ValidationError(_("this report belongs to another State"))
        modified = _aware(record.modified)
        if modified is None or modified <= existing.updated_at:
            self.summary.reports_merged += 1
            return
        changes = {k: v for k, v in cleaned.items()
                   if k not in ("named_analysts", "consent_to_name")}
        current = services.current_content(existing)
        if services.snapshot({**current, **changes}) == services.snapshot(current):
            self.summary.reports_merged += 1
            return
        services.amend_report(existing, self.user, changes,
                              note=f"Imported update ({record.source_format})")
        self.summary.reports_updated += 1

    def indicator(self, record: IndicatorRecord) -> None:
        try:
            value = normalise(record.type, record.value)
            tlp = self._tlp(record.tlp)
        except (IndicatorError, ValidationError) as exc:
            reason = exc.messages[0] if isinstance(exc, ValidationError) else str(exc)
            self.summary.rejected.append(Rejection(record.where, f"{record.type}: {reason}"))
            return
        now = timezone.now()
        stix_id = stable_id("indicator", record.source_format, record.external_id,
                            f"{record.type}:{value}")
        incident = self.reports_by_ref.get(record.report_ref) if record.report_ref else None
        self.pending.append(SharedIndicator(
            stix_id=stix_id, state_id=self.user.state_id, created_by=self.user,
            source=record.source_format, type=record.type, value=value,
            pattern=record.pattern or "", name=record.name[:300],
            description=record.description, labels=list(record.labels), tlp=tlp,
            incident=incident, valid_from=_aware(record.valid_from),
            valid_until=_aware(record.valid_until), created=_aware(record.modified) or now,
            modified=_aware(record.modified) or now))
        if len(self.pending) >= INDICATOR_BATCH:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        unique = {item.stix_id: item for item in batch}
        known = set(SharedIndicator.objects.filter(stix_id__in=list(unique))
                    .values_list("stix_id", flat=True))
        fresh = [item for stix_id, item in unique.items() if stix_id not in known]
        SharedIndicator.objects.bulk_create(fresh, batch_size=INDICATOR_BATCH)
        self.summary.indicators_created += len(fresh)
        self.summary.indicators_merged += len(batch) - len(fresh)


def import_records(records: Iterable, *, user, default_tlp: str | None = None,
                   dry_run: bool = False, submit: bool = True, source_name: str = "",
                   progress: Callable[[int], None] | None = None) -> ImportSummary:
    """Import everything or nothing. With rejections or dry_run nothing stays written."""
    if not (user.is_authenticated and user.is_focal_point):
        raise ValidationError(
            _("Imports are made by a Member State's focal point."))
    summary = ImportSummary(dry_run=dry_run)
    importer = _Importer(user, default_tlp, summary, submit=submit)
    with transaction.atomic():
        for record in records:
            if isinstance(record, Rejection):
                summary.rejected.append(record)
            elif isinstance(record, ReportRecord):
                importer.report(record)
            elif isinstance(record, IndicatorRecord):
                importer.indicator(record)
            if progress is not None:
                progress(1)
        importer.flush()
        if summary.written:
            audit.record("exchange.import", (source_name or "import")[:64], object_type="import",
                         after={k: v for k, v in summary.as_dict().items()
                                if k not in ("rejected", "created_ids")})
        else:
            transaction.set_rollback(True)
    if not summary.written:
        # Evidence files were stored before the rollback; nothing may stay behind.
        for name in importer.stored_files:
            default_storage.delete(name)
        summary.created_ids = []
    return summary
