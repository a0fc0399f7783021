"""Bundle kinds: one module per kind of evidence bundle, as ``exchange/formats`` has one per
format; the submission pipeline (``observatory/services.py``) asks this registry what to do with
the kind a manifest names.

Each module declares:

* ``KIND`` — the bundle kind (``BundleSubmission.Kind``; the value is written once, in
  ``evidence/bundle.py``, which the measuring tools use without Django);
* ``EXPECT`` — the word ``--expect`` and the upload form use for it;
* ``CATEGORY`` — the category code of the draft report it makes;
* ``MODEL`` — the model holding one row per result, for the statistics;
* ``parse(user, manifest, summary, digest, signer) -> Parsed`` — the rows, the counts and the
  report's fields and narrative, or ``BundleRefused``;
* ``prepare(manifest)`` — whatever must be checked before anything is written (a campaign
  round), and ``record(submission, prepared)``, run inside the submission's transaction.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from sentinelle.observatory.bundles._common import BundleRefused, Parsed

__all__ = ["MODULES", "BundleRefused", "Parsed", "all_kinds", "expect_choices", "get",
           "kind_for"]

# One module per kind, in the order the upload form offers them; each names its own kind.
MODULES: tuple[str, ...] = (
    "sentinelle.observatory.bundles.access",
    "sentinelle.observatory.bundles.routing",
)


def all_kinds() -> list[ModuleType]:
    # Imported when first asked for, as exchange/formats does: the kinds import the incidents
    # services and the campaigns, which import this package back.
    return [importlib.import_module(path) for path in MODULES]


def get(kind: str) -> ModuleType | None:
    """The module of bundle kind ``kind`` (a manifest's ``kind``), or None if there is none."""
    return next((module for module in all_kinds() if kind == module.KIND), None)


def kind_for(expect: str) -> str | None:
    """The kind that ``expect`` names: an ``--expect`` word ("probe", "routing") or a kind."""
    for module in all_kinds():
        if expect in (module.EXPECT, module.KIND):
            return module.KIND
    return None


def expect_choices() -> list[tuple[str, str]]:
    """(``--expect`` word, the kind's label) for each kind, for the command and the form."""
    return [(module.EXPECT, module.KIND.label) for module in all_kinds()]
