from sentinelle.reports.models.generated import CouncilReport

__all__ = ["CouncilReport"]
