"""What an invoice or a receipt shows, as plain frozen data: the contract between invoicing and its PDFs.

The renderer (``pdf.py``) reads only these classes, never a model, so it can
be built, tested and benchmarked without a database, and the invoice services
decide once what a document says (the numbers, the words a merchant typed,
the payer's address already formatted as lines). Amounts are integers in the
currency's minor unit, as everywhere in Kassa; formatting them is the
renderer's job. Dates are calendar dates in the merchant's reckoning.
"""

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class Party:
    """The seller or the buyer: who they are and where, as printed."""

    name: str
    address: list[str] = field(default_factory=list)  # lines, already formatted ("12 rue X", "75001 Paris", "France")
    email: str | None = None
    vat_number: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class TaxLine:
    """One tax rate's total on the document: its base and its amount."""

    label: str  # as the rate is shown: "TVA 20 %", "VAT 20%"
    inclusive: bool  # already in the prices (True) or added on top (False)
    taxable_amount: int  # the base the rate applies to, net of tax
    amount: int


@dataclass(frozen=True)
class DocumentLine:
    description: str
    quantity: int
    unit_amount: int | None  # None when the line has no single unit price (e.g. a one-off amount)
    amount: int  # the line's amount before exclusive taxes (inclusive taxes are in it)
    tax_labels: list[str] = field(default_factory=list)  # the labels of its rates, as in TaxLine.label
    period: str | None = None  # preformatted, e.g. "1 to 31 Dec 2026"


@dataclass(frozen=True)
class InvoiceDocument:
    language: str  # "en" or "fr": the words, the dates and the amounts' format
    number: str  # empty for a draft, which has none yet
    status: str  # draft, open, paid, void, uncollectible
    currency: str  # lowercase ISO code
    issued: date | None
    due: date | None
    paid_at: date | None
    seller: Party
    buyer: Party
    lines: list[DocumentLine]
    subtotal: int  # sum of the lines' amounts
    total_taxes: list[TaxLine]  # one per rate
    total: int  # subtotal + exclusive taxes
    amount_paid: int
    amount_remaining: int
    seller_logo: bytes | None = None  # PNG or JPEG
    description: str | None = None  # the memo above the lines
    footer: str | None = None  # the merchant's words at the end (legal mentions, payment terms)
    livemode: bool = True  # False: every page says TEST MODE
    payment_summary: str | None = None  # for the receipt: "Visa •••• 4242"
    receipt_number: str | None = None
