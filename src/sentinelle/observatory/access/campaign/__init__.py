"""Probe campaigns: lists measured on a schedule, each round's signed bundle kept in a local
outbox until the platform acknowledges it (``sentinelle probe campaign``; docs/observatory.md,
"Campaigns")."""
