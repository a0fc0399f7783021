"""Build hook: compile the translation catalogues into the wheel, and build it afresh.

Everything else about the package is in pyproject.toml. The .mo files are build products (not
committed, see .gitignore), so without this hook `pip install .` would ship the .po sources only
and every page would be English. Babel compiles them (it is in [build-system] requires), as
scripts/compile_messages.py does for a checkout, so building needs no GNU gettext.
"""

from __future__ import annotations

import os
import shutil

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from setuptools import setup
from setuptools.command.build_py import build_py


def compile_catalogue(po_path: str, mo_path: str) -> None:
    """Write po_path compiled to mo_path; fuzzy entries are left out, as msgfmt does."""
    language = po_path.split(os.sep)[-3]  # .../locale/<language>/LC_MESSAGES/django.po
    with open(po_path, "rb") as handle:
        catalog = read_po(handle, locale=language.replace("_", "-").split("-")[0],
                          abort_invalid=True)
    with open(mo_path, "wb") as handle:
        write_mo(handle, catalog, use_fuzzy=False)


class BuildPyWithCatalogues(build_py):
    """build_py that also writes each package .po as .mo beside its copy in the build tree."""

    def _catalogues(self) -> list[tuple[str, str]]:
        pairs = []
        for _package, src_dir, build_dir, filenames in self.data_files:
            for filename in filenames:
                if filename.endswith(".po"):
                    pairs.append((os.path.join(src_dir, filename),
                                  os.path.join(build_dir, filename[:-3] + ".mo")))
        return pairs

    def run(self) -> None:
        editable = getattr(self, "editable_mode", False)
        if not editable:
            # `pip install .` in a checkout reuses its build/ folder, and setuptools only adds
            # to it: a template or module removed since the last build would ship again.
            for top in sorted({package.split(".")[0] for package in self.packages or ()}):
                built = os.path.realpath(os.path.join(self.build_lib, top))
                if built != os.path.realpath(self.get_package_dir(top)):  # never the sources
                    shutil.rmtree(built, ignore_errors=True)
        super().run()
        # An editable install reads the catalogues in the checkout, which `make messages`
        # compiles; its build tree is thrown away.
        if editable:
            return
        for po_path, mo_path in self._catalogues():
            self.mkpath(os.path.dirname(mo_path))
            compile_catalogue(po_path, mo_path)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = super().get_outputs(include_bytecode)
        if getattr(self, "editable_mode", False):
            return outputs
        return outputs + [mo for _po, mo in self._catalogues() if mo not in outputs]


setup(cmdclass={"build_py": BuildPyWithCatalogues})
