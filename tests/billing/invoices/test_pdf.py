"""Invoice and receipt PDFs (billing/invoices/pdf.py): rendered from documents, read back as text with pypdf.

What a person reading the PDF sees is what is checked: the legal fields, each
line with its amounts in one row, each tax rate's base and amount, the totals
after the last line, in English and in French, on one page and on several.
Amounts are compared with ``kassa.money.format_localised``'s own output.
fpdf2 writes the no-break space of wrapped text (table cells) as a plain
space (the line still never breaks there), so ``\\xa0`` is read as a space;
French's narrow no-break space (U+202F) comes back as itself.
"""

import io
import logging
from datetime import date
from decimal import Decimal

import pytest
from PIL import Image
from pypdf import PdfReader

from billing.invoices.documents import DocumentLine, InvoiceDocument, Party, TaxLine
from billing.invoices.pdf import invoice_pdf, receipt_pdf
from billing.invoices.services import tax_amount
from kassa.money import format_localised

SELLER = Party(
    name="Atelier Dupré SARL",
    address=["12 rue de la Paix", "75002 Paris", "France"],
    email="factures@dupre.example",
    vat_number="FR12345678901",
    phone="+33 1 23 45 67 89",
)
BUYER = Party(
    name="Société Générale d\u2019Études",
    address=["5 avenue Foch", "69006 Lyon", "France"],
    email="compta@sge.example",
    vat_number="FR98765432109",
)
# (label, percentage, inclusive)
VAT_20 = ("TVA 20 %", "20", False)
VAT_5_5_INCLUDED = ("TVA 5,5 %", "5.5", True)


def make_document(
    *,
    language="en",
    lines=1,
    currency="eur",
    rates=(VAT_20,),
    unit_amount=12345,
    paid=False,
    **overrides,
) -> InvoiceDocument:
    """A finalized invoice of ``lines`` lines (or these lines) taking the rates in turn, taxed by the house rule."""
    document_lines, taxes = [], {}
    for i in range(lines if isinstance(lines, int) else 0):
        label, percentage, inclusive = rates[i % len(rates)]
        quantity = i % 3 + 1
        unit = unit_amount + i * 7  # every line's amount differs
        amount = unit * quantity
        tax = tax_amount(amount, Decimal(percentage), inclusive, currency)
        base, total = taxes.get(label, (0, 0))
        taxes[label] = (base + (amount - tax if inclusive else amount), total + tax)
        document_lines.append(
            DocumentLine(
                description=f"Séance de conseil n° {i + 1:02d}",
                quantity=quantity,
                unit_amount=unit,
                amount=amount,
                tax_labels=[label],
                period="1\u201331 Dec 2026" if i % 5 == 4 else None,
            )
        )
    inclusive_of = {label: inclusive for label, _, inclusive in rates}
    total_taxes = [
        TaxLine(label=label, inclusive=inclusive_of[label], taxable_amount=base, amount=amount)
        for label, (base, amount) in taxes.items()
    ]
    subtotal = sum(line.amount for line in document_lines)
    total = subtotal + sum(tax.amount for tax in total_taxes if not tax.inclusive)
    fields = {
        "language": language,
        "number": "ADS-2026-0042",
        "status": "paid" if paid else "open",
        "currency": currency,
        "issued": date(2026, 11, 30),
        "due": date(2026, 12, 30),
        "paid_at": date(2026, 12, 2) if paid else None,
        "seller": SELLER,
        "buyer": BUYER,
        "lines": document_lines if isinstance(lines, int) else lines,
        "subtotal": subtotal,
        "total_taxes": total_taxes,
        "total": total,
        "amount_paid": total if paid else 0,
        "amount_remaining": 0 if paid else total,
        "description": "Merci pour votre confiance.",
        "footer": "SARL au capital de 10 000 €, RCS Paris 123 456 789. Indemnité forfaitaire de recouvrement : 40 €.",
        "payment_summary": "Visa •••• 4242" if paid else None,
        "receipt_number": "2417-9932" if paid else None,
    }
    fields.update(overrides)
    return InvoiceDocument(**fields)


def pages_text(pdf: bytes) -> list[str]:
    assert pdf.startswith(b"%PDF-")
    return [page.extract_text().replace("\xa0", " ") for page in PdfReader(io.BytesIO(pdf)).pages]


def money(doc: InvoiceDocument, amount: int) -> str:
    return format_localised(amount, doc.currency, doc.language).replace("\xa0", " ")


def assert_lines_and_totals(doc: InvoiceDocument, pages: list[str], words: dict[str, str]) -> None:
    """Every line in one row of the table, every rate's base and amount, then the totals after the last line."""
    text = "\n".join(pages)
    for line in doc.lines:
        numbers = (
            f"{line.quantity} {money(doc, line.unit_amount)} {', '.join(line.tax_labels)} {money(doc, line.amount)}"
        )
        if line.period:
            assert f"{line.description}\n{line.period}\n{numbers}" in text
        else:
            assert f"{line.description} {numbers}" in text
    for tax in doc.total_taxes:
        label = words["included"] % tax.label if tax.inclusive else tax.label
        assert f"{label} {money(doc, tax.taxable_amount)} {money(doc, tax.amount)}\n" in text
    taxes = sum(tax.amount for tax in doc.total_taxes)
    totals = [
        f"{words['excluding']} {money(doc, doc.total - taxes)}",
        f"{words['tax']} {money(doc, taxes)}",
        f"{words['total']} {money(doc, doc.total)}",
        f"{words['paid']} {money(doc, doc.amount_paid)}",
    ]
    last_line = text.index(doc.lines[-1].description)
    for total in totals:
        assert text.index(total) > last_line, total
    assert text.count(f"{words['total']} {money(doc, doc.total)}") == 1


ENGLISH = {
    "included": "%s (included)",
    "excluding": "Total excluding tax",
    "tax": "Total tax",
    "total": "Total",
    "paid": "Amount paid",
}
FRENCH = {
    "included": "%s (incluse)",
    "excluding": "Total HT",
    "tax": "Total TVA",
    "total": "Total TTC",
    "paid": "Montant payé",
}


def assert_parties(text: str) -> None:
    for party in (SELLER, BUYER):
        assert party.name in text
        for address_line in party.address:
            assert address_line in text
        assert party.email in text
    assert SELLER.phone in text


def test_english_invoice_one_line():
    doc = make_document()
    pages = pages_text(invoice_pdf(doc))
    text = pages[0]

    assert len(pages) == 1
    assert text.startswith("Invoice\n")
    assert_parties(text)
    assert f"VAT number: {SELLER.vat_number}" in text
    assert f"VAT number: {BUYER.vat_number}" in text
    assert "Invoice number ADS-2026-0042" in text
    assert "Date of issue November 30, 2026" in text
    assert "Date due December 30, 2026" in text
    assert "Bill to".upper() in text
    assert "Description Qty Unit price Tax Amount" in text
    assert f"{money(doc, doc.total)} due December 30, 2026" in text
    assert doc.description in text
    assert_lines_and_totals(doc, pages, ENGLISH)
    assert f"Amount due {money(doc, doc.amount_remaining)}" in text
    assert "€148.14" in text  # 123.45 and 20 % VAT, 24.69
    assert "SARL au capital de 10 000 €, RCS Paris 123 456 789." in text
    assert "Invoice ADS-2026-0042 · Page 1 of 1" in text
    assert "TEST MODE" not in text


def test_french_invoice_has_a_french_invoices_words():
    doc = make_document(language="fr", rates=(VAT_20, VAT_5_5_INCLUDED), lines=2)
    pages = pages_text(invoice_pdf(doc))
    text = pages[0]

    assert text.startswith("Facture\n")
    assert_parties(text)
    assert f"N° de TVA : {SELLER.vat_number}" in text
    assert f"N° de TVA : {BUYER.vat_number}" in text
    assert "Numéro de facture ADS-2026-0042" in text
    assert "Date d\u2019émission 30 novembre 2026" in text
    assert "Date d\u2019échéance 30 décembre 2026" in text
    assert "FACTURÉ À" in text
    assert "Description Qté Prix unitaire TVA Montant" in text
    assert "TVA Base HT Montant TVA" in text
    assert_lines_and_totals(doc, pages, FRENCH)
    assert f"Montant dû {money(doc, doc.amount_remaining)}" in text
    assert "Sous-total" in text  # inclusive VAT: the lines' sum is not the total before tax
    assert "Facture ADS-2026-0042 · Page 1 sur 1" in text
    # French amounts: comma decimals, the euro sign after a no-break space.
    assert money(doc, doc.total).endswith(f",{doc.total % 100:02d} €")
    assert "€" in text
    assert "é" in text


def test_fifty_lines_paginate_with_the_heading_on_every_page_and_totals_at_the_end():
    doc = make_document(language="fr", lines=50, rates=(VAT_20, VAT_5_5_INCLUDED), unit_amount=98765)
    pages = pages_text(invoice_pdf(doc))

    assert len(pages) >= 3
    for number, page in enumerate(pages, start=1):
        assert "Description Qté Prix unitaire TVA Montant" in page
        assert f"Facture ADS-2026-0042 · Page {number} sur {len(pages)}" in page
    assert "Total TTC" in pages[-1]
    assert "Total TTC" not in "".join(pages[:-1])
    assert_lines_and_totals(doc, pages, FRENCH)
    # Thousands in French: a narrow no-break space, read back as such.
    assert "\u202f" in money(doc, doc.total)
    assert f"Montant dû {money(doc, doc.total)}" in pages[-1]


def test_fifty_lines_in_english():
    doc = make_document(lines=50, rates=(VAT_20, ("VAT 5.5%", "5.5", True)))
    pages = pages_text(invoice_pdf(doc))

    assert len(pages) >= 3
    for page in pages:
        assert "Description Qty Unit price Tax Amount" in page
    assert_lines_and_totals(doc, pages, ENGLISH)


@pytest.mark.parametrize(("language", "yen"), [("en", "¥1,500"), ("fr", "1\u202f500 JPY")])
def test_yen_has_no_decimals(language, yen):
    doc = make_document(language=language, currency="jpy", unit_amount=1500, rates=(("JCT 10%", "10", True),))
    pages = pages_text(invoice_pdf(doc))

    assert yen in pages[0]
    assert_lines_and_totals(doc, pages, ENGLISH if language == "en" else FRENCH)


def test_a_line_without_unit_price_and_an_invoice_without_tax():
    line = DocumentLine(description="Adjustment", quantity=1, unit_amount=None, amount=500)
    doc = make_document(lines=[line], subtotal=500, total_taxes=[], total=500, amount_remaining=500)
    text = pages_text(invoice_pdf(doc))[0]

    assert "Adjustment 1 €5.00" in text
    assert "Subtotal €5.00" in text
    assert "Total €5.00" in text
    assert "Total tax" not in text
    assert "Total excluding tax" not in text


def test_receipt_has_its_number_the_payment_and_the_amount_paid():
    doc = make_document(paid=True, lines=3)
    pages = pages_text(receipt_pdf(doc))
    text = pages[0]

    assert text.startswith("Receipt\n")
    assert "Receipt number 2417-9932" in text
    assert "Invoice number ADS-2026-0042" in text
    assert "Date paid December 2, 2026" in text
    assert "Payment method Visa •••• 4242" in text
    assert f"{money(doc, doc.total)} paid on December 2, 2026" in text
    assert_parties(text)
    assert_lines_and_totals(doc, pages, ENGLISH)
    assert f"Amount paid {money(doc, doc.amount_paid)}" in text
    assert "Amount due" not in text
    assert "Receipt 2417-9932 · Page 1 of 1" in text


def test_french_receipt():
    doc = make_document(paid=True, language="fr")
    text = pages_text(receipt_pdf(doc))[0]

    assert text.startswith("Reçu\n")
    assert "Numéro de reçu 2417-9932" in text
    assert "Date de paiement 2 décembre 2026" in text
    assert "Moyen de paiement Visa •••• 4242" in text
    assert f"Payé le 2 décembre 2026 : {money(doc, doc.total)}" in text
    assert f"Montant payé {money(doc, doc.total)}" in text


def test_a_paid_invoice_says_so():
    doc = make_document(paid=True)
    text = pages_text(invoice_pdf(doc))[0]

    assert "Invoice\nPAID\n" in text
    assert "Date paid December 2, 2026" in text
    assert f"{money(doc, doc.total)} paid on December 2, 2026" in text
    assert "Amount due €0.00" in text


@pytest.mark.parametrize(
    ("status", "language", "word"),
    [("draft", "en", "DRAFT"), ("void", "fr", "ANNULÉE"), ("uncollectible", "en", "UNCOLLECTIBLE")],
)
def test_status_word(status, language, word):
    doc = make_document(status=status, language=language, number="" if status == "draft" else "ADS-2026-0042")
    text = pages_text(invoice_pdf(doc))[0]

    assert f"\n{word}\n" in text
    if status == "draft":
        assert "Invoice number" not in text
        assert "Invoice · Page 1 of 1" in text


@pytest.mark.parametrize(("mode", "size"), [("RGBA", "PNG"), ("RGB", "JPEG")])
def test_logo_is_embedded(mode, size):
    picture = io.BytesIO()
    Image.new(mode, (480, 160), (30, 90, 200) + ((255,) if mode == "RGBA" else ())).save(picture, size)
    doc = make_document(seller_logo=picture.getvalue())

    pdf = invoice_pdf(doc)
    page = PdfReader(io.BytesIO(pdf)).pages[0]

    assert len(page.images) == 1
    assert page.images[0].image.size == (480, 160)
    assert SELLER.name in page.extract_text()


def test_test_mode_is_marked_on_every_page():
    doc = make_document(livemode=False, lines=50)
    pages = pages_text(invoice_pdf(doc))

    assert len(pages) > 1
    for page in pages:
        assert page.startswith("TEST MODE: this document is not valid and nothing was charged\n")
    french = pages_text(receipt_pdf(make_document(livemode=False, paid=True, language="fr")))
    assert french[0].startswith("MODE TEST : ce document n\u2019a aucune valeur et rien n\u2019a été débité\n")


def test_the_font_has_every_glyph_of_amounts_and_french(caplog):
    """fpdf2 logs the characters its font lacks; Lato must have €, £, ¥, accents and both no-break spaces."""
    documents = [
        make_document(language="fr", lines=3, unit_amount=123456),
        make_document(currency="gbp"),
        make_document(currency="jpy", unit_amount=1500),
        make_document(paid=True, language="fr"),
    ]
    with caplog.at_level(logging.WARNING, logger="fpdf"):
        texts = ["\n".join(pages_text(invoice_pdf(doc))) for doc in documents]
        texts.append("\n".join(pages_text(receipt_pdf(documents[-1]))))

    assert not [record for record in caplog.records if "missing" in record.getMessage()]
    joined = "\n".join(texts)
    for character in ("€", "£", "¥", "é", "É", "à", "°", "\u202f", "•", "\u2019"):
        assert character in joined, character
