"""Where the tests' files are, computed once here: test modules sit at different depths under
tests/ (one folder per app), so a path computed from a module's own ``__file__`` would break
each time a module moves."""

from __future__ import annotations

from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent
ROOT = TESTS_DIR.parent
DATA_DIR = TESTS_DIR / "data"
FIXTURES_DIR = TESTS_DIR / "fixtures"
# The shared/ folder beside the checkout (real data sets the tests use when present).
SHARED_DIR = ROOT.parent / "shared"

__all__ = ["DATA_DIR", "FIXTURES_DIR", "ROOT", "SHARED_DIR", "TESTS_DIR"]
