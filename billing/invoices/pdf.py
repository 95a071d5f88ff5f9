"""Invoices and receipts as PDF, drawn in-process from an ``InvoiceDocument`` (documents.py).

Why fpdf2: pure Python (its dependencies, fontTools, Pillow and defusedxml,
are wheels every platform has), actively kept, draws straight into the PDF
with no browser and no HTML engine, and has what an invoice needs: tables that
break across pages with their heading repeated, blocks kept whole, embedded
subset TrueType fonts, PNG/JPEG images. ReportLab would do too but is larger
and its open-source half is the older API. A separate rendering service is
what DESIGN.md rules out (seconds a page, a 500 when it is down).

The font is Lato (SIL Open Font License, which allows embedding and
redistribution) from the ``fontpkg-lato`` wheel: PDF's core fonts are
Latin-1 only, and amounts need ``€``, ``£``, ``¥`` and the narrow no-break
space French puts in ``1 234,56 €``. Lato's static Regular and Bold files
cost about 50 ms a document to parse and subset (bench/invoice_pdf.py's
floor); the variable fonts of the other font wheels tried (Noto Sans, IBM
Plex) took 4 to 6 s a document to instantiate, and Fira Sans and PT Sans
lack U+202F. Text outside Lato's Latin, Greek and Cyrillic (a buyer's name
in Chinese) prints blank, and fpdf2 logs a warning naming the characters.

Every word goes through Django's gettext under ``translation.override`` of
the document's language, so the French of a French invoice sits in
billing/locale with the rest: "Facture", "Date d'émission", "Total HT",
"TVA", "Total TTC", "Montant dû". Amounts go through
``kassa.money.format_localised``; dates through Babel's long format. What
French law asks of an invoice that is not in the document (SIREN, RCS,
late-payment penalties, the 40 € recovery fee) is the merchant's footer.
"""

from io import BytesIO

from babel.dates import format_date
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from fontpkg_lato import ROOT as LATO_ROOT
from fpdf import FPDF, FontFace
from fpdf.enums import TableBordersLayout

from kassa.money import format_localised

from .documents import InvoiceDocument, TaxLine

FONT = "Lato"
FONT_FILES = {"": LATO_ROOT / "files" / "Lato-Regular.ttf", "B": LATO_ROOT / "files" / "Lato-Bold.ttf"}

MARGIN = 15  # mm, on A4 (210 x 297)
BOTTOM = 20  # room for the page footer
INK = (33, 37, 41)
MUTED = (108, 117, 125)
RULE = (206, 212, 218)
SHADE = (241, 243, 245)
TEST_RED = (192, 28, 40)


class _Page(FPDF):
    """A4 pages with Kassa's running footer and, out of live mode, a TEST MODE band on each page."""

    def __init__(self, *, running: str, test_band: str | None):
        super().__init__(orientation="P", unit="mm", format="A4")
        self.running = running  # "Invoice F-0001 · Page {page} of {nb}" already in words
        self.test_band = test_band
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(auto=True, margin=BOTTOM)
        for style, path in FONT_FILES.items():
            self.add_font(FONT, style, path)
        self.set_text_color(*INK)

    def header(self):
        if self.test_band:
            self.set_fill_color(*TEST_RED)
            self.set_text_color(255, 255, 255)
            self.set_font(FONT, "B", 10)
            self.set_xy(0, 0)
            self.cell(self.w, 8, self.test_band, align="C", fill=True)
            self.set_text_color(*INK)
            self.set_y(MARGIN)

    def footer(self):
        self.set_y(-(BOTTOM - 6))
        self.set_font(FONT, "", 8)
        self.set_text_color(*MUTED)
        self.cell(0, 5, self.running.replace("{page}", str(self.page_no())), align="R")
        self.set_text_color(*INK)


def invoice_pdf(doc: InvoiceDocument) -> bytes:
    """The invoice as a PDF file's bytes."""
    with translation.override(doc.language):
        title = _("Invoice")
        meta = [(_("Invoice number"), doc.number)] if doc.number else []
        meta += [(_("Date of issue"), _date(doc, doc.issued)), (_("Date due"), _date(doc, doc.due))]
        if doc.status == "paid":
            meta.append((_("Date paid"), _date(doc, doc.paid_at)))
        pdf = _start(doc, title=title, status=_status_word(doc.status), reference=doc.number, meta=meta)
        _headline(pdf, _invoice_headline(doc))
        _lines(pdf, doc)
        _totals(pdf, doc, receipt=False)
        _footer_text(pdf, doc)
        return bytes(pdf.output())


def receipt_pdf(doc: InvoiceDocument) -> bytes:
    """The receipt of a paid invoice as a PDF file's bytes."""
    with translation.override(doc.language):
        title = _("Receipt")
        meta = [(_("Receipt number"), doc.receipt_number)] if doc.receipt_number else []
        if doc.number:
            meta.append((_("Invoice number"), doc.number))
        meta.append((_("Date paid"), _date(doc, doc.paid_at)))
        if doc.payment_summary:
            meta.append((_("Payment method"), doc.payment_summary))
        # A receipt is of a paid invoice: no status word.
        pdf = _start(doc, title=title, status="", reference=doc.receipt_number or doc.number, meta=meta)
        paid = _money(doc, doc.amount_paid)
        if doc.paid_at:
            _headline(pdf, _("%(amount)s paid on %(date)s") % {"amount": paid, "date": _date(doc, doc.paid_at)})
        else:
            _headline(pdf, _("%(amount)s paid") % {"amount": paid})
        _lines(pdf, doc)
        _totals(pdf, doc, receipt=True)
        _footer_text(pdf, doc)
        return bytes(pdf.output())


# --- the parts of a page -----------------------------------------------------------------


def _start(
    doc: InvoiceDocument, *, title: str, status: str, reference: str | None, meta: list[tuple[str, str]]
) -> _Page:
    """A new document with its first page's top: the logo, the title and status, the seller and buyer, the dates."""
    running = f"{title} {reference}" if reference else title
    page_words = _("Page %(page)s of %(pages)s") % {"page": "{page}", "pages": "{nb}"}
    test_band = None if doc.livemode else _("TEST MODE: this document is not valid and nothing was charged")
    pdf = _Page(running=f"{running} · {page_words}", test_band=test_band)
    pdf.set_title(running)
    pdf.set_author(doc.seller.name)
    pdf.set_creator("Kassa")
    pdf.set_lang(doc.language)
    pdf.add_page()

    top = pdf.get_y()
    if doc.seller_logo:
        pdf.image(BytesIO(doc.seller_logo), x=MARGIN, y=top, w=50, h=18, keep_aspect_ratio=True)
    # The title and the document's status, right-aligned.
    pdf.set_font(FONT, "B", 20)
    pdf.set_xy(MARGIN, top)
    pdf.cell(0, 9, title, align="R", new_x="LMARGIN", new_y="NEXT")
    if status:
        pdf.set_font(FONT, "B", 10)
        pdf.set_text_color(*(TEST_RED if doc.status in {"void", "uncollectible"} else MUTED))
        pdf.cell(0, 6, status.upper(), align="R", new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(*INK)
    pdf.set_y(max(pdf.get_y(), top + (20 if doc.seller_logo else 0)) + 4)

    # Seller on the left, the document's number and dates on the right.
    half = (pdf.epw - 6) / 2
    block_top = pdf.get_y()
    _party(pdf, doc.seller, x=MARGIN, width=half, heading=None)
    seller_bottom = pdf.get_y()
    pdf.set_y(block_top)
    for label, value in meta:
        pdf.set_x(MARGIN + half + 6)
        pdf.set_font(FONT, "", 9)
        pdf.set_text_color(*MUTED)
        pdf.cell(half * 0.5, 5, label)
        pdf.set_text_color(*INK)
        pdf.set_font(FONT, "B", 9)
        pdf.cell(half * 0.5, 5, value, align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_y(max(seller_bottom, pdf.get_y()) + 6)
    _party(pdf, doc.buyer, x=MARGIN, width=half, heading=_("Bill to"))
    pdf.ln(4)
    return pdf


def _party(pdf: _Page, party, *, x: float, width: float, heading: str | None) -> None:
    if heading:
        pdf.set_x(x)
        pdf.set_font(FONT, "", 8)
        pdf.set_text_color(*MUTED)
        pdf.cell(width, 5, heading.upper(), new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(*INK)
    pdf.set_x(x)
    pdf.set_font(FONT, "B", 10)
    pdf.multi_cell(width, 5, party.name, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 9)
    details = [*party.address, party.email, party.phone]
    if party.vat_number:
        details.append(_("VAT number: %(number)s") % {"number": party.vat_number})
    for text in details:
        if text:
            pdf.set_x(x)
            pdf.multi_cell(width, 4.5, text, new_x="LMARGIN", new_y="NEXT")


def _headline(pdf: _Page, text: str) -> None:
    pdf.set_font(FONT, "B", 13)
    pdf.multi_cell(0, 7, text, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)


def _invoice_headline(doc: InvoiceDocument) -> str:
    if doc.status == "paid":
        words = {"amount": _money(doc, doc.amount_paid), "date": _date(doc, doc.paid_at)}
        return _("%(amount)s paid on %(date)s") % words if doc.paid_at else _("%(amount)s paid") % words
    words = {"amount": _money(doc, doc.amount_remaining), "date": _date(doc, doc.due)}
    return _("%(amount)s due %(date)s") % words if doc.due else _("%(amount)s due") % words


def _lines(pdf: _Page, doc: InvoiceDocument) -> None:
    """The lines' table; fpdf2 breaks it across pages and repeats its heading on each."""
    if doc.description:
        pdf.set_font(FONT, "", 9)
        pdf.multi_cell(0, 4.5, doc.description, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
    pdf.set_font(FONT, "", 9)
    pdf.set_draw_color(*RULE)
    heading = FontFace(family=FONT, emphasis="BOLD", size_pt=8, color=MUTED, fill_color=SHADE)
    with pdf.table(
        col_widths=(80, 14, 30, 26, 30),
        text_align=("LEFT", "RIGHT", "RIGHT", "LEFT", "RIGHT"),
        borders_layout=TableBordersLayout.HORIZONTAL_LINES,
        headings_style=heading,
        line_height=4.5,
        padding=(1.5, 1.5),
        v_align="TOP",
    ) as table:
        row = table.row()
        for word in (
            _("Description"),
            pgettext("invoice column", "Qty"),
            _("Unit price"),
            pgettext("invoice column", "Tax"),
            _("Amount"),
        ):
            row.cell(word)
        for line in doc.lines:
            row = table.row()
            row.cell(f"{line.description}\n{line.period}" if line.period else line.description)
            row.cell(str(line.quantity))
            row.cell(_money(doc, line.unit_amount) if line.unit_amount is not None else "")
            row.cell(", ".join(line.tax_labels))
            row.cell(_money(doc, line.amount))
    pdf.ln(4)


def _totals(pdf: _Page, doc: InvoiceDocument, *, receipt: bool) -> None:
    """Tax per rate, then the totals, kept on one page (moved whole to the next when they do not fit)."""
    taxes = sum(tax.amount for tax in doc.total_taxes)
    excluding_tax = doc.total - taxes
    rows: list[tuple[str, int, bool]] = []
    if not doc.total_taxes or doc.subtotal != excluding_tax:
        rows.append((_("Subtotal"), doc.subtotal, False))
    if doc.total_taxes:
        rows.append((_("Total excluding tax"), excluding_tax, False))
        rows.append((_("Total tax"), taxes, False))
        rows.append((pgettext("invoice total with tax", "Total"), doc.total, True))
    else:
        rows.append((pgettext("invoice total without tax", "Total"), doc.total, True))
    rows.append((_("Amount paid"), doc.amount_paid, receipt))
    if not receipt:
        rows.append((_("Amount due"), doc.amount_remaining, True))

    with pdf.unbreakable() as block:
        if doc.total_taxes:
            _tax_table(block, doc)
        width = 90
        for label, amount, strong in rows:
            block.set_x(MARGIN + block.epw - width)
            block.set_font(FONT, "B" if strong else "", 10 if strong else 9)
            block.cell(width * 0.6, 6, label, border="T" if strong else 0)
            block.cell(width * 0.4, 6, _money(doc, amount), align="R", border="T" if strong else 0)
            block.ln(6)
    pdf.ln(6)


def _tax_table(pdf: _Page, doc: InvoiceDocument) -> None:
    pdf.set_font(FONT, "", 9)
    heading = FontFace(family=FONT, emphasis="BOLD", size_pt=8, color=MUTED, fill_color=SHADE)
    with pdf.table(
        width=110,
        align="RIGHT",
        col_widths=(50, 30, 30),
        text_align=("LEFT", "RIGHT", "RIGHT"),
        borders_layout=TableBordersLayout.HORIZONTAL_LINES,
        headings_style=heading,
        line_height=4.5,
        padding=(1.5, 1.5),
    ) as table:
        row = table.row()
        for word in (pgettext("invoice column", "Tax"), _("Taxable amount"), _("Tax amount")):
            row.cell(word)
        for tax in doc.total_taxes:
            row = table.row()
            row.cell(_tax_label(tax))
            row.cell(_money(doc, tax.taxable_amount))
            row.cell(_money(doc, tax.amount))
    pdf.ln(3)


def _footer_text(pdf: _Page, doc: InvoiceDocument) -> None:
    if doc.footer:
        pdf.set_font(FONT, "", 8)
        pdf.set_text_color(*MUTED)
        pdf.multi_cell(0, 4, doc.footer, align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(*INK)


# --- words ---------------------------------------------------------------------------------


def _tax_label(tax: TaxLine) -> str:
    return _("%(tax)s (included)") % {"tax": tax.label} if tax.inclusive else tax.label


def _status_word(status: str) -> str:
    return {
        "draft": pgettext("invoice status", "Draft"),
        "paid": pgettext("invoice status", "Paid"),
        "void": pgettext("invoice status", "Void"),
        "uncollectible": pgettext("invoice status", "Uncollectible"),
    }.get(status, "")


def _money(doc: InvoiceDocument, amount: int) -> str:
    return format_localised(amount, doc.currency, doc.language)


def _date(doc: InvoiceDocument, day) -> str:
    return format_date(day, format="long", locale=doc.language) if day else "-"
