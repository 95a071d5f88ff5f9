from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = _("Billing")

    def ready(self):
        from webhooks.services import inbound

        from .catalogue import services as catalogue
        from .checkout import services as checkout
        from .clocks import services as clocks
        from .invoices import emails as invoice_emails
        from .invoices import hooks as invoice_hooks
        from .invoices import services as invoices
        from .payments import emails as payment_emails
        from .payments import services as payments
        from .portal import page_sections as portal_sections
        from .portal import sections as portal
        from .portal import services as portal_services
        from .portal import subscription_section as portal_subscription_section
        from .subscriptions import services as subscriptions

        self._renderings()

        # Stripe's events about payments and refunds: re-read the object from Stripe and record it.
        inbound.handle(
            "payment_intent.",
            handler=lambda *, merchant, livemode, object_id: payments.payment_intent_sync(
                merchant=merchant, livemode=livemode, processor_payment_intent_id=object_id
            ),
        )
        inbound.handle(
            "refund.",
            "charge.refund.updated",
            handler=lambda *, merchant, livemode, object_id: payments.refund_sync(
                merchant=merchant, livemode=livemode, processor_refund_id=object_id
            ),
        )

        # An invoice owns its PaymentIntents: paid (or told of a failure, or of 3-D Secure) with them,
        # and ended only by voiding the invoice. Its success hook is asked first: a renewal day's payments are all
        # invoices', and the hooks after the owner are not asked.
        payments.on_payment_intent_succeeded(invoices.invoice_payment_succeeded)
        payments.on_payment_intent_failed(invoices.invoice_payment_failed)
        payments.on_payment_intent_requires_action(invoices.invoice_payment_action_required)
        payments.payment_intent_owner(invoices.invoice_owning)
        # A detached card stops being the default of the unpaid invoices, then the subscriptions, naming it: locked
        # in that order (a payment locks an invoice before its subscription), before the customer.
        payments.on_card_detached(invoices.invoices_card_detached, subscriptions.subscriptions_card_detached)
        # The invoice's receipt (with its PDF) replaces payments' generic one for an invoice's PaymentIntent (queued
        # by invoice_payment_succeeded).
        payment_emails.receipt_replaced_by(invoice_emails.receipt_replaces)

        # A checkout session owns its PaymentIntent: paid with it, and ended only by expiring.
        payments.on_payment_intent_succeeded(checkout.checkout_session_mark_paid)
        payments.payment_intent_owner(checkout.checkout_session_owning)
        payments.payment_intent_ended_by_owner(checkout.checkout_session_ended)
        payment_emails.receipt_line_items(checkout.checkout_session_receipt_lines)

        # A test clock's customers live on its time: advancing it runs beat's services for them only, in this order
        # (invoicing's finalization and first charges, overdue notices, dunning's retries and ends, then subscriptions'
        # renewals, trial ends and expiry).
        for service in (
            invoices.invoices_advance,
            invoices.invoices_mark_overdue,  # before dunning's run, which ends those whose days after it have passed
            invoices.invoices_retry_due,
            subscriptions.subscriptions_advance,
        ):
            clocks.on_advance(
                lambda *, customers_queryset, now, service=service: service(now=now, customers=customers_queryset)
            )
        # A step ends at the first moment one of them has work (a renewal at its period's end, to the second).
        clocks.on_next_due(invoices.invoices_next_due)
        clocks.on_next_due(subscriptions.subscriptions_next_due)

        # The customer portal's page: its own sections; other parts (subscriptions) add theirs the same way.
        # Its Subscriptions section lives in the portal too (above subscriptions: it calls their services directly).
        for section in (
            portal_subscription_section.SUBSCRIPTIONS,
            portal_sections.PAYMENT_METHOD,
            portal_sections.DETAILS,
            portal_sections.INVOICES,
        ):
            portal.section_register(section)

        # A customer's new default card retries their past-due invoices at once (after the change commits).
        catalogue.on_default_payment_method_changed(invoices.invoices_retry_queue)
        # Dunning's emails send the payer to the portal for a new card (when the merchant offers it there); a card
        # update there is a new default card, so it retries at once.
        invoices.card_update_url(portal_services.portal_card_update_link)

        # Only a subscription's latest invoice decides its status: invoicing tells it what became of each invoice.
        invoice_hooks.on_invoice_changed(subscriptions.subscription_invoice_changed)
        # A pending update (payment_behavior=pending_if_incomplete) applies once its invoice is paid.
        invoice_hooks.on_invoice_changed(subscriptions.subscription_pending_update_invoice_changed)
        # A subscription saving its paying card (save_default_payment_method) keeps the hosted page's card.
        invoice_hooks.keeps_card(subscriptions.subscription_saves_card)
        # After dunning's last retry fails, the merchant's choice for the subscription (cancel, unpaid, past_due).
        invoices.on_dunning_exhausted(subscriptions.subscription_dunning_exhausted)
        # A subscription-mode checkout completes when its first invoice is paid (after the subscription moved).
        invoice_hooks.on_invoice_changed(checkout.checkout_session_invoice_changed)

    def _renderings(self):
        """Events carry each object as the API shows it: the outbox renders with the API's serializers."""
        from kassa.api.views import represent
        from webhooks.services import outbox

        from . import models
        from .catalogue.api import serializers
        from .checkout.api import serializers as checkout_serializers
        from .clocks.api import serializers as clocks_serializers
        from .invoices.api import serializers as invoices_serializers
        from .payments.api import serializers as payments_serializers
        from .portal.api import serializers as portal_serializers
        from .subscriptions import preview as subscription_preview
        from .subscriptions import services as subscriptions
        from .subscriptions.api import preview as subscription_preview_out
        from .subscriptions.api import serializers as subscriptions_serializers

        shapes = {
            models.Product: serializers.ProductOut,
            models.Price: serializers.PriceOut,
            models.Customer: serializers.CustomerOut,
            models.PaymentLink: checkout_serializers.PaymentLinkOut,
            models.CheckoutSession: checkout_serializers.CheckoutSessionOut,
            models.PaymentIntent: payments_serializers.PaymentIntentOut,
            models.Refund: payments_serializers.RefundOut,
            models.TaxRate: invoices_serializers.TaxRateOut,
            models.PaymentMethod: payments_serializers.PaymentMethodOut,
            models.Invoice: invoices_serializers.InvoiceOut,
            models.InvoiceItem: invoices_serializers.InvoiceItemOut,
            models.TestClock: clocks_serializers.TestClockOut,
            models.PortalSession: portal_serializers.PortalSessionOut,
            models.Subscription: subscriptions_serializers.SubscriptionOut,
            models.SubscriptionItem: subscriptions_serializers.SubscriptionItemOut,
        }
        for model, out in shapes.items():
            outbox.register(model, lambda obj, out=out: represent(out, obj, {"expand": set(), "view": None}))
        outbox.register("charge", payments_serializers.charge_out)
        # invoice.upcoming shows the next invoice as invoices.create_preview answers it.
        subscriptions.upcoming_rendering(
            lambda subscription, now: represent(
                subscription_preview_out.InvoicePreviewOut,
                subscription_preview.invoice_preview(
                    merchant=subscription.merchant, livemode=subscription.livemode, now=now, subscription=subscription
                ),
                {"expand": set(), "view": None},
            )
        )
        outbox.register(
            "invoice_line_item",
            lambda item: represent(invoices_serializers.InvoiceLineItemOut, item, {"expand": set(), "view": None}),
        )
        # A customer's default card expands to the card as payments shows it.
        serializers.CustomerOut.payment_method_out = payments_serializers.PaymentMethodOut
        # A customer's test clock expands to the clock.
        serializers.CustomerOut.test_clock_out = clocks_serializers.TestClockOut
