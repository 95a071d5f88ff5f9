"""Benchmark: server time of one invoice PDF (billing/invoices/pdf.py), 1 line and 50 lines.

What it measures
    The time ``invoice_pdf(doc)`` takes in the process that serves it: from an
    ``InvoiceDocument`` in memory to the PDF's bytes (fonts loaded and
    subset, the pages drawn, the file compressed). Loading the invoice from
    the database is not in it. Documents alternate French and English, with a
    PNG logo, two VAT rates (20 % added on top, 5.5 % included), and every one
    is different (its number and amounts), as a run of real invoices would be.
    The 1-line and 50-line (3 pages) documents are rendered alternately so
    that a busy machine slows both alike.

    Next to them, the *floor*: an fpdf2 page with the same two Lato faces and
    one line of text, the least any PDF with an embedded Unicode font costs
    here (fontTools parses and subsets the fonts for every file). The ratio
    of the 1-line invoice to the floor shows what the invoice's own drawing
    adds to that fixed cost.

How to run
    From the repository root::

        .venv/bin/python bench/invoice_pdf.py                 # or: make bench-pdf
        .venv/bin/python bench/invoice_pdf.py --documents 1000

    No database, no server: Django is set up in-process with production
    settings (throwaway secrets, a temporary KASSA_VAR_DIR) for the
    translation catalogs. The PDFs are kept in memory only. About 30 s for the
    default 300 documents of each size on a 2-core machine.

How to read it
    Per kind of document: p50, p99 and max wall-clock time per document in
    milliseconds, the process's CPU time per document (mean), the pages and
    the file's size. Wall and CPU agree on a quiet machine; when they do not,
    other processes took the CPU.
"""

import argparse
import base64
import io
import os
import secrets
import sys
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def setup_django(var_dir: str) -> None:
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "kassa.settings",
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "KASSA_ENCRYPTION_KEYS": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            "ALLOWED_HOSTS": "127.0.0.1",
            "KASSA_VAR_DIR": var_dir,  # keep the repository's var/ untouched
            "LOG_LEVEL": "WARNING",
        }
    )
    sys.path.insert(0, str(REPO))
    import django

    django.setup()


def logo_png() -> bytes:
    from PIL import Image, ImageDraw

    picture = Image.new("RGBA", (360, 120), (255, 255, 255, 0))
    ImageDraw.Draw(picture).rounded_rectangle((0, 0, 359, 119), radius=24, fill=(30, 90, 200, 255))
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    return buffer.getvalue()


def make_document(n: int, *, lines: int, logo: bytes):
    """The n-th benchmark invoice: French for even n, English for odd, ``lines`` lines."""
    from billing.invoices.documents import DocumentLine, InvoiceDocument, Party, TaxLine
    from billing.invoices.services import tax_amount

    language = "fr" if n % 2 == 0 else "en"
    rates = [("TVA 20 %" if language == "fr" else "VAT 20%", "20", False), ("TVA 5,5 %", "5.5", True)]
    document_lines, taxes = [], {}
    for i in range(lines):
        label, percentage, inclusive = rates[i % 2]
        quantity = i % 4 + 1
        unit = 1_000 + (n * 37 + i * 113) % 250_000
        amount = unit * quantity
        tax = tax_amount(amount, Decimal(percentage), inclusive, "eur")
        base, total = taxes.get((label, inclusive), (0, 0))
        taxes[label, inclusive] = (base + (amount - tax if inclusive else amount), total + tax)
        document_lines.append(
            DocumentLine(
                description=f"Prestation de service n° {i + 1} (abonnement {n % 12 + 1})",
                quantity=quantity,
                unit_amount=unit,
                amount=amount,
                tax_labels=[label],
                period="1 au 31 décembre 2026" if i % 3 == 0 else None,
            )
        )
    total_taxes = [
        TaxLine(label=label, inclusive=inclusive, taxable_amount=base, amount=amount)
        for (label, inclusive), (base, amount) in taxes.items()
    ]
    subtotal = sum(line.amount for line in document_lines)
    total = subtotal + sum(tax.amount for tax in total_taxes if not tax.inclusive)
    return InvoiceDocument(
        language=language,
        number=f"BENCH-{n:06d}",
        status="open",
        currency="eur",
        issued=date(2026, 11, 30),
        due=date(2026, 12, 30),
        paid_at=None,
        seller=Party(
            name="Atelier Dupré SARL",
            address=["12 rue de la Paix", "75002 Paris", "France"],
            email="factures@dupre.example",
            vat_number="FR12345678901",
            phone="+33 1 23 45 67 89",
        ),
        seller_logo=logo,
        buyer=Party(
            name=f"Client n° {n}",
            address=["5 avenue Foch", "69006 Lyon", "France"],
            email=f"client{n}@example.com",
            vat_number="FR98765432109",
        ),
        lines=document_lines,
        subtotal=subtotal,
        total_taxes=total_taxes,
        total=total,
        amount_paid=0,
        amount_remaining=total,
        description="Merci pour votre confiance.",
        footer="SARL au capital de 10 000 €, RCS Paris 123 456 789. Pénalités de retard : trois fois le taux "
        "d'intérêt légal. Indemnité forfaitaire pour frais de recouvrement : 40 €.",
        livemode=True,
    )


def floor_pdf(n: int) -> bytes:
    """The least a PDF with Lato embedded costs: the same two faces, one line of text."""
    from fpdf import FPDF

    from billing.invoices.pdf import FONT, FONT_FILES

    pdf = FPDF(unit="mm", format="A4")
    for style, path in FONT_FILES.items():
        pdf.add_font(FONT, style, path)
    pdf.add_page()
    pdf.set_font(FONT, "B", 20)
    pdf.cell(0, 9, "Facture")
    pdf.ln()
    pdf.set_font(FONT, "", 9)
    pdf.cell(0, 5, f"BENCH-{n:06d} 1\u202f234,56\u00a0€")
    return bytes(pdf.output())


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=300, help="documents of each size (default 300)")
    parser.add_argument("--warmup", type=int, default=10, help="unmeasured documents of each size first (default 10)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="kassa-bench-pdf-") as var_dir:
        setup_django(var_dir)
        from pypdf import PdfReader

        from billing.invoices.pdf import invoice_pdf

        logo = logo_png()
        print(f"building {args.documents} documents of 1 and of 50 lines ...", flush=True)
        kinds = {
            "floor (fpdf2 + Lato, 1 text line)": list(range(args.warmup + args.documents)),
            "invoice, 1 line": [make_document(n, lines=1, logo=logo) for n in range(args.warmup + args.documents)],
            "invoice, 50 lines": [make_document(n, lines=50, logo=logo) for n in range(args.warmup + args.documents)],
        }
        render = {name: (floor_pdf if name.startswith("floor") else invoice_pdf) for name in kinds}
        wall = {name: [] for name in kinds}
        cpu = {name: [] for name in kinds}
        last = {}
        print("rendering ...", flush=True)
        for i in range(args.warmup + args.documents):
            for name, docs in kinds.items():
                started, started_cpu = time.perf_counter(), time.process_time()
                pdf = render[name](docs[i])
                elapsed, elapsed_cpu = time.perf_counter() - started, time.process_time() - started_cpu
                if i >= args.warmup:
                    wall[name].append(elapsed * 1000)
                    cpu[name].append(elapsed_cpu * 1000)
                last[name] = pdf

        print()
        print(
            f"{'document':<36} {'n':>5} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'CPU ms':>8} {'pages':>6} {'KB':>6}"
        )
        for name in kinds:
            pages = len(PdfReader(io.BytesIO(last[name])).pages)
            print(
                f"{name:<36} {len(wall[name]):>5} {percentile(wall[name], 0.5):>8.1f} "
                f"{percentile(wall[name], 0.99):>8.1f} {max(wall[name]):>8.1f} "
                f"{sum(cpu[name]) / len(cpu[name]):>8.1f} {pages:>6} {len(last[name]) / 1024:>6.1f}"
            )
        floor = percentile(wall["floor (fpdf2 + Lato, 1 text line)"], 0.5)
        one = percentile(wall["invoice, 1 line"], 0.5)
        fifty = percentile(wall["invoice, 50 lines"], 0.5)
        print(f"\np50 over the floor: 1 line {one / floor:.2f}x, 50 lines {fifty / floor:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
