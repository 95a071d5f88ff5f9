"""Every French catalog in the repository is complete: no entry untranslated or fuzzy, placeholders kept.

English is the source language, so an empty ``msgstr`` would show English on a
French page and a fuzzy one would be left out of the build (kassa/i18n_compile.py):
both fail here instead. A placeholder lost or renamed in a translation would
raise a KeyError (or show a raw ``%(name)s``) when the page is drawn.
"""

import re

import pytest
from babel.messages.pofile import read_po

from kassa import i18n_compile

# %(name)s / %(count)d, positional %s / %d, and str.format fields {0} / {name}.
PLACEHOLDER = re.compile(r"%\([a-zA-Z_]\w*\)[sdfir]|%[sdfir]|\{[a-zA-Z_0-9]*\}")

FRENCH = [po for po in i18n_compile.catalogs() if po.parent.parent.name == "fr"]


def placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text.replace("%%", "")))


def entries(po):
    with po.open("rb") as handle:
        catalog = read_po(handle, locale="fr")
    return [message for message in catalog if message.id]


def test_every_app_with_dashboard_words_has_a_french_catalog():
    where = {str(po.relative_to(i18n_compile.ROOT)) for po in FRENCH}
    assert where == {
        "locale/fr/LC_MESSAGES/django.po",
        "billing/locale/fr/LC_MESSAGES/django.po",
        "merchants/locale/fr/LC_MESSAGES/django.po",
        "webhooks/locale/fr/LC_MESSAGES/django.po",
    }


@pytest.mark.parametrize("po", FRENCH, ids=lambda po: str(po.relative_to(i18n_compile.ROOT)))
def test_every_entry_is_translated_not_fuzzy_and_keeps_its_placeholders(po):
    problems = []
    for message in entries(po):
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        if message.fuzzy:
            problems.append(f"fuzzy: {ids[0]!r}")
        if not all(strings):
            problems.append(f"untranslated: {ids[0]!r}")
            continue
        if len(ids) == 1:
            if placeholders(strings[0]) != placeholders(ids[0]):
                problems.append(f"placeholders differ: {ids[0]!r} -> {strings[0]!r}")
        else:
            # French's singular (0 and 1) and plural forms each keep the English plural's placeholders.
            expected = placeholders(ids[1])
            problems += [f"placeholders differ: {ids[1]!r} -> {s!r}" for s in strings if placeholders(s) != expected]
    assert not problems, "\n".join(problems)


def test_the_checks_catch_what_they_are_for():
    assert placeholders("Pay %(amount)s to %(merchant)s") == ["%(amount)s", "%(merchant)s"]
    assert placeholders("{0} and %d, 100%% sure") == ["%d", "{0}"]
    assert placeholders("Payer %(montant)s") != placeholders("Pay %(amount)s")
