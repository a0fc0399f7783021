from sentinelle.actionplan.models.plan import (
    Action,
    Indicator,
    Metric,
    ProgressUpdate,
    Responsible,
)

__all__ = ["Action", "Indicator", "Metric", "ProgressUpdate", "Responsible"]
