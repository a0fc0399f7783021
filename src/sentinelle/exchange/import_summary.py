"""What an import did (exchange/importer.py): counts, what was rejected and why, and what the
job, the command and the audit entry report from it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from sentinelle.exchange.records import Rejection

ON_INVALID = ("refuse", "skip")
# A 50 MB file of `1,` in a STIX array is 25 million rejections: the summary keeps the first
# ones (what the command, the job page and the audit entry list) and counts the rest, so that
# memory does not grow with them. A reason quotes the file: cut, so that a megabyte value does
# not end up, a thousand times over, in the job result and the audit entry.
MAX_KEPT_REJECTIONS = 10_000
MAX_REASON = 500
MAX_WHERE = 200


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


@dataclass
class ImportSummary:
    dry_run: bool = False
    on_invalid: str = "refuse"
    reports_created: int = 0
    reports_merged: int = 0
    reports_updated: int = 0
    indicators_created: int = 0
    indicators_merged: int = 0
    indicators_updated: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    created_ids: list[int] = field(default_factory=list)
    # Records not imported on purpose (route said why): not an error, nothing rolls back.
    skipped: list[Rejection] = field(default_factory=list)
    filed_under: dict[str, int] = field(default_factory=dict)   # alpha-2 -> records
    tlp_kept: int = 0    # updates that would have loosened a report's TLP (pulled=True)
    rejected_count: int = 0   # every rejection, kept in `rejected` or not

    def add_rejection(self, rejection: Rejection) -> None:
        self.rejected_count += 1
        if len(self.rejected) < MAX_KEPT_REJECTIONS:
            self.rejected.append(Rejection(_cut(rejection.where, MAX_WHERE),
                                           _cut(rejection.reason, MAX_REASON), rejection.ref))

    @property
    def rejected_total(self) -> int:
        return max(self.rejected_count, len(self.rejected))

    @property
    def ok(self) -> bool:
        """Nothing was rejected."""
        return not self.rejected_total

    @property
    def changed(self) -> int:
        """How many items this import creates or amends (or would, in a dry run)."""
        return (self.reports_created + self.reports_updated + self.indicators_created
                + self.indicators_updated)

    @property
    def written(self) -> bool:
        """Something stays written: all or nothing, nothing rejected (refuse); at least one
        item created or amended (skip). Never in a dry run."""
        if self.dry_run:
            return False
        return bool(self.changed) if self.on_invalid == "skip" else self.ok

    @property
    def succeeded(self) -> bool:
        """What a job or a command reports as success: nothing rejected, or (skip) at least
        one valid item, even if it was already there. Every item rejected is a failure."""
        if self.ok:
            return True
        valid = self.changed + self.reports_merged + self.indicators_merged
        return self.on_invalid == "skip" and valid > 0

    def rejected_list(self, limit: int = 1000) -> list[dict]:
        return [{"where": r.where, "reason": r.reason, **({"ref": r.ref} if r.ref else {})}
                for r in self.rejected[:limit]]

    def as_dict(self) -> dict:
        data = asdict(self)
        data["rejected"] = self.rejected_list()
        data["rejected_count"] = self.rejected_total
        data["skipped"] = [{"where": r.where, "reason": r.reason} for r in self.skipped[:1000]]
        data["skipped_count"] = len(self.skipped)
        data["written"] = self.written
        return data
