"""Compile every src/sentinelle/locale/*/LC_MESSAGES/django.po to .mo with Babel.

`make` uses this instead of Django's compilemessages so that a machine with only Python (no
GNU gettext) can install and test Sentinelle. Fuzzy entries are left out, as msgfmt does.
setup.py compiles the same way into the wheel when the package is built.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE = Path(__file__).resolve().parents[1] / "src" / "sentinelle" / "locale"


def main() -> int:
    catalogues = sorted(LOCALE.glob("*/LC_MESSAGES/django.po"))
    for po_path in catalogues:
        with open(po_path, "rb") as handle:
            catalog = read_po(handle, locale=po_path.parts[-3].replace("_", "-").split("-")[0],
                              abort_invalid=True)
        mo_path = po_path.with_suffix(".mo")
        temporary = mo_path.with_suffix(".mo.part")
        with open(temporary, "wb") as handle:
            write_mo(handle, catalog, use_fuzzy=False)
        temporary.replace(mo_path)
    print(f"compiled {len(catalogues)} catalogue(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
