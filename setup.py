"""Build hook: compile the translation catalogues into the wheel, and build it afresh; build the
optional compiled MRT reader (observatory/routing/_mrt_accel.pyx) when Cython and a C compiler
are there, and go on without it (one line on stderr) when they are not: the pure-Python reader
gives the same output, only slower.

Everything else about the package is in pyproject.toml. The .mo files are build products (not
committed, see .gitignore), so without this hook `pip install .` would ship the .po sources only
and every page would be English. Babel compiles them (it is in [build-system] requires), as
scripts/compile_messages.py does for a checkout, so building needs no GNU gettext.
"""

from __future__ import annotations

import os
import shutil
import sys

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

ACCEL = "sentinelle.observatory.routing._mrt_accel"
ACCEL_SOURCE = "src/sentinelle/observatory/routing/_mrt_accel.pyx"  # includes _mrt_accel_text.pxi


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


def _notice(reason: str) -> None:
    print(f"sentinelle: the compiled MRT reader ({ACCEL}) is not built ({reason}); "
          "the pure-Python reader will be used", file=sys.stderr)


class OptionalBuildExt(build_ext):
    """build_ext where a failed compilation (no compiler, no Python headers) is a notice, not
    an error: `make demo` and `make test` must work on a machine without a C compiler."""

    def initialize_options(self) -> None:
        super().initialize_options()
        self.failed: set[str] = set()

    def _built(self) -> None:
        """Forget the extensions that did not build (nothing to copy or to pack)."""
        self.extensions = [e for e in self.extensions or () if e.name not in self.failed]

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - any build failure leaves the Python reader
            _notice(f"{type(exc).__name__}: {exc}".splitlines()[0])
            self.failed.update(e.name for e in self.extensions or ())
            self._built()

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001
            _notice(f"{type(exc).__name__}: {exc}".splitlines()[0])
            self.failed.add(ext.name)

    def copy_extensions_to_source(self) -> None:  # `pip install -e .`
        self._built()
        super().copy_extensions_to_source()

    def get_outputs(self) -> list[str]:
        self._built()
        return super().get_outputs()


def _extensions() -> list[Extension]:
    if os.environ.get("SENTINELLE_BUILD_ACCEL", "1") == "0":
        _notice("SENTINELLE_BUILD_ACCEL=0")
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        _notice("Cython is not installed")
        return []
    try:
        return cythonize([Extension(ACCEL, [ACCEL_SOURCE])], quiet=True,
                         compiler_directives={"language_level": "3"})
    except Exception as exc:  # noqa: BLE001
        _notice(f"cythonize failed: {exc}".splitlines()[0])
        return []


setup(cmdclass={"build_py": BuildPyWithCatalogues, "build_ext": OptionalBuildExt},
      ext_modules=_extensions())
