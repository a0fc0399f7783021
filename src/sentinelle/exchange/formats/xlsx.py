"""XLSX template reports: the same columns and rules as CSV (see csvxlsx.py)."""

from __future__ import annotations

from sentinelle.exchange.formats.csvxlsx import parse_xlsx as parse
from sentinelle.exchange.formats.csvxlsx import sniff_xlsx as sniff

NAME = "xlsx"
__all__ = ["NAME", "parse", "sniff"]
