"""Celery entry points for invoicing: thin and idempotent (beat passes the real time; the services re-check
every status under its row lock, so a run repeated or overlapping changes nothing twice)."""

from celery import shared_task
from django.utils import timezone

from ..catalogue.models import Customer
from ..catalogue.selectors import customer_now
from . import emails, services
from .models import Invoice


@shared_task(name="billing.tasks.invoices_advance")
def invoices_advance() -> int:
    """Finalize the auto_advance drafts whose hour has passed, and charge the invoices due an attempt."""
    return services.invoices_advance(now=timezone.now())


@shared_task(name="billing.tasks.invoices_retry_due")
def invoices_retry_due() -> int:
    """Dunning: the retries due on each merchant's schedule, and the final action where retries ran out."""
    return services.invoices_retry_due(now=timezone.now())


@shared_task(name="billing.tasks.invoices_retry_for_customer")
def invoices_retry_for_customer(customer_pk: int) -> int:
    """A customer's new default card: their past-due invoices tried now, on the customer's time (a test clock's
    frozen time for a customer living on one, as its advancing would pass)."""
    customer = Customer.objects.select_related("default_payment_method", "merchant").get(pk=customer_pk)
    now = customer_now(customer=customer, now=timezone.now())
    return services.invoices_retry_for_customer(customer=customer, now=now)


@shared_task(name="billing.tasks.invoices_mark_overdue")
def invoices_mark_overdue() -> int:
    """``invoice.overdue`` once for each open send_invoice invoice past its due date."""
    return services.invoices_mark_overdue(now=timezone.now())


@shared_task(name="billing.tasks.invoice_email_send", bind=True, max_retries=5, owed=True)
def invoice_email_send(self, invoice_pk: int, sending: str) -> int:
    """The invoice email of one sending (link and PDF); sent once, so a retry sends what is left."""
    invoice = Invoice.objects.select_related("merchant", "customer").get(pk=invoice_pk)
    try:
        return emails.invoice_email_send(invoice=invoice, sending=sending)
    except Exception as exc:  # the mail server's error, whatever its type
        raise self.retry(countdown=60, exc=exc) from exc


@shared_task(name="billing.tasks.invoice_receipt_send", bind=True, max_retries=5, owed=True)
def invoice_receipt_send(self, invoice_pk: int) -> int:
    """The receipt of a paid invoice (receipt PDF); sent once."""
    invoice = Invoice.objects.select_related("merchant", "customer").get(pk=invoice_pk)
    try:
        return emails.invoice_receipt_send(invoice=invoice)
    except Exception as exc:  # the mail server's error, whatever its type
        raise self.retry(countdown=60, exc=exc) from exc


@shared_task(name="billing.tasks.invoice_dunning_email_send", bind=True, max_retries=5, owed=True)
def invoice_dunning_email_send(self, invoice_pk: int, kind: str, attempt: str, final: bool) -> int:
    """The payer's email about one failed automatic attempt (with the link to give a new card); sent once."""
    invoice = Invoice.objects.select_related("merchant", "customer").get(pk=invoice_pk)
    try:
        link = services.invoice_card_update_url(invoice=invoice, kind=kind, now=timezone.now())
        return emails.invoice_dunning_email_send(invoice=invoice, kind=kind, attempt=attempt, final=final, link=link)
    except Exception as exc:  # the mail server's error, whatever its type
        raise self.retry(countdown=60, exc=exc) from exc
