"""Compile every gettext catalog in the repository (``**/locale/*/LC_MESSAGES/*.po`` -> ``.mo``) with Python alone.

Kassa's words are Django gettext catalogs: ``locale/`` at the top (LOCALE_PATHS:
the project's templates, ``templates/pay/`` and ``kassa/``) and each app's own
``<app>/locale/`` (Django finds those itself). English is the source language;
the ``.po`` files are the translations, committed. The ``.mo`` files Django reads
are built, never committed (``.gitignore``): by ``make run`` and ``make test``
(the ``messages`` target), by the Dockerfile, and so by CI, which runs ``make test``.

Why not ``manage.py compilemessages``: it shells out to GNU gettext's ``msgfmt``,
a system package a fresh machine (Python 3.11 and make) does not have. Babel,
already a base requirement for amounts, reads ``.po`` and writes ``.mo``. A
catalog whose translation breaks a placeholder (``%(amount)s`` missing or
misspelt) stops the build here rather than failing on a payer's page.

Adding or changing words (a developer's task, which does need GNU gettext: ``apt install gettext``),
from the repository's root::

    DEBUG=true python manage.py makemessages -l fr --add-location=file -i .venv -i var -i tests -i bench -i docs
    # translate the new msgstr entries, drop "#, fuzzy" once checked, then:
    make messages                     # or: python -m kassa.i18n_compile

makemessages files each string under the nearest ``locale/`` up its path: an
app with its own ``<app>/locale/`` gets its words, everything else (project
templates, ``kassa/``, apps without one) goes to the top ``locale/``.
``--add-location=file`` keeps line numbers out of the catalogs (no churn on
every edit). An empty ``msgstr`` is English on the page; tests/kassa/test_catalogs.py
fails on one, on a fuzzy entry and on a changed placeholder. Where catalogs share
a word, Django takes ``locale/`` first, then the apps in INSTALLED_APPS order
(Kassa's are listed before the libraries, so DRF's "Clef" never wins over "Clé").

Usage: ``python -m kassa.i18n_compile [--force] [PO_FILE …]``: with no file, every
catalog under the repository; only those whose ``.mo`` is missing or older
than the ``.po`` are rebuilt unless ``--force``.
"""

import os
import sys
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
# Directories that hold other projects' catalogs (installed packages) or runtime data, never Kassa's.
SKIP = frozenset({".venv", "venv", "var", "node_modules", "staticfiles", ".git"})


class CatalogError(Exception):
    pass


def catalogs(root: Path = ROOT) -> list[Path]:
    """Every ``locale/<lang>/LC_MESSAGES/*.po`` under ``root``, outside SKIP."""
    found = []
    for po in root.rglob("locale/*/LC_MESSAGES/*.po"):
        if not SKIP.intersection(po.relative_to(root).parts):
            found.append(po)
    return sorted(found)


def compile_catalog(po: Path) -> Path:
    """Write ``po``'s ``.mo`` beside it (fuzzy entries left out, as msgfmt does); CatalogError if it is broken."""
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=po.parent.parent.name, abort_invalid=True)
    problems = [
        f"{po}:{message.lineno}: {message.id!r}: {error}"
        for message, errors in catalog.check()
        for error in errors
        if not message.fuzzy
    ]
    if problems:
        raise CatalogError("\n".join(problems))
    mo = po.with_suffix(".mo")
    draft = mo.with_suffix(f".mo.{os.getpid()}.tmp")  # processes compiling at once (test runs) each write their own
    with draft.open("wb") as handle:
        write_mo(handle, catalog, use_fuzzy=False)
    draft.replace(mo)  # a running server never reads half a file
    return mo


def stale(po: Path) -> bool:
    mo = po.with_suffix(".mo")
    return not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime


def main(argv: list[str], root: Path = ROOT) -> int:
    force = "--force" in argv
    named = [Path(arg) for arg in argv if arg != "--force"]
    failed = False
    for po in named or catalogs(root):
        if not (force or named or stale(po)):
            continue
        try:
            mo = compile_catalog(po)
        except (CatalogError, ValueError, OSError) as exc:
            sys.stderr.write(f"{po}: not compiled:\n{exc}\n")
            failed = True
            continue
        sys.stdout.write(f"compiled {mo.relative_to(root) if mo.is_relative_to(root) else mo}\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
