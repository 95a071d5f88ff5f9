"""kassa.i18n_compile: every catalog in the tree compiles with Python alone, and Django reads what it writes."""

import shutil
import subprocess
import sys

from django.utils import translation

from kassa import i18n_compile

FRENCH_PO = i18n_compile.ROOT / "locale/fr/LC_MESSAGES/django.po"
# The hosted pages' Python words ("Pay %(amount)s") are in their app's catalog.
BILLING_PO = i18n_compile.ROOT / "billing/locale/fr/LC_MESSAGES/django.po"


def copy_tree_catalogs(to):
    """The repository's catalogs, at the same paths under ``to``, with no .mo: a clean checkout's."""
    copies = []
    for po in i18n_compile.catalogs():
        copy = to / po.relative_to(i18n_compile.ROOT)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(po, copy)
        copies.append(copy)
    return copies


def test_every_catalog_of_a_clean_tree_compiles(tmp_path, capsys):
    copies = copy_tree_catalogs(tmp_path)
    assert tmp_path / "locale/fr/LC_MESSAGES/django.po" in copies
    # Installed packages' and runtime data's catalogs are not Kassa's.
    for skipped in (".venv/lib/django/locale/fr/LC_MESSAGES/django.po", "var/locale/fr/LC_MESSAGES/django.po"):
        (tmp_path / skipped).parent.mkdir(parents=True)
        shutil.copyfile(FRENCH_PO, tmp_path / skipped)
    assert i18n_compile.catalogs(tmp_path) == sorted(copies)

    assert i18n_compile.main([], root=tmp_path) == 0
    assert all(po.with_suffix(".mo").stat().st_size > 0 for po in copies)
    assert not (tmp_path / ".venv/lib/django/locale/fr/LC_MESSAGES/django.mo").exists()
    assert "compiled locale/fr/LC_MESSAGES/django.mo" in capsys.readouterr().out
    # Up to date: nothing to do until a .po changes.
    assert i18n_compile.main([], root=tmp_path) == 0
    assert capsys.readouterr().out == ""


def test_django_reads_the_compiled_catalog(tmp_path, settings):
    po = tmp_path / "locale/fr/LC_MESSAGES/django.po"
    po.parent.mkdir(parents=True)
    po.write_text(FRENCH_PO.read_text().replace('msgstr "Votre commande"', 'msgstr "Votre panier"'))
    i18n_compile.compile_catalog(po)
    settings.LOCALE_PATHS = [tmp_path / "locale"]  # clears Django's catalog cache
    with translation.override("fr"):
        assert translation.gettext("Your order") == "Votre panier"
        assert translation.gettext("Pay %(amount)s") % {"amount": "12,50 €"} == "Payer 12,50 €"
    with translation.override("en"):
        assert translation.gettext("Your order") == "Your order"


def test_a_translation_that_breaks_a_placeholder_stops_the_build(tmp_path):
    po = tmp_path / "locale/fr/LC_MESSAGES/django.po"
    po.parent.mkdir(parents=True)
    po.write_text(BILLING_PO.read_text().replace('msgstr "Payer %(amount)s"', 'msgstr "Payer %(montant)s"'))
    result = subprocess.run(
        [sys.executable, "-m", "kassa.i18n_compile", str(po)],
        capture_output=True,
        text=True,
        cwd=i18n_compile.ROOT,
        check=False,
    )
    assert result.returncode == 1
    assert "not compiled" in result.stderr
    assert "Pay %(amount)s" in result.stderr
    assert not po.with_suffix(".mo").exists()
