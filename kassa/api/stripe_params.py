"""Which of stripe-python's typed request parameters each operation answers to, in one place.

Kassa refuses any parameter it does not know. A name Stripe has for the same
operation (read at run time from the TypedDict stripe-python types
``params=`` with) is refused with a message saying Kassa does not support it
yet, so a client developer tells a gap in Kassa from a typo. The same table
drives docs/stripe-compatibility.md (``make compat``), which fails when an
operation of the schema is missing here.
"""

from kassa import gateway

#: operation_id (as in the OpenAPI schema) -> the params class under ``stripe.params`` that
#: StripeClient's method for it (``client.v1.products.create``) types ``params=`` with;
#: None for Kassa's own operations, which stripe-python has no method for.
STRIPE_PARAMS: dict[str, str | None] = {
    "products_list": "ProductListParams",
    "products_create": "ProductCreateParams",
    "products_retrieve": "ProductRetrieveParams",
    "products_update": "ProductUpdateParams",
    "products_delete": "ProductDeleteParams",
    "prices_list": "PriceListParams",
    "prices_create": "PriceCreateParams",
    "prices_retrieve": "PriceRetrieveParams",
    "prices_update": "PriceUpdateParams",
    "tax_rates_list": "TaxRateListParams",
    "tax_rates_create": "TaxRateCreateParams",
    "tax_rates_retrieve": "TaxRateRetrieveParams",
    "tax_rates_update": "TaxRateUpdateParams",
    "invoiceitems_list": "InvoiceItemListParams",
    "invoiceitems_create": "InvoiceItemCreateParams",
    "invoiceitems_retrieve": "InvoiceItemRetrieveParams",
    "invoiceitems_update": "InvoiceItemUpdateParams",
    "invoiceitems_delete": "InvoiceItemDeleteParams",
    "invoices_list": "InvoiceListParams",
    "invoices_create": "InvoiceCreateParams",
    "invoices_retrieve": "InvoiceRetrieveParams",
    "invoices_update": "InvoiceUpdateParams",
    "invoices_delete": "InvoiceDeleteParams",
    "invoices_finalize": "InvoiceFinalizeInvoiceParams",
    "invoices_send": "InvoiceSendInvoiceParams",
    "invoices_pay": "InvoicePayParams",
    "invoices_void": "InvoiceVoidInvoiceParams",
    "invoices_mark_uncollectible": "InvoiceMarkUncollectibleParams",
    "subscriptions_list": "SubscriptionListParams",
    "subscriptions_create": "SubscriptionCreateParams",
    "subscriptions_retrieve": "SubscriptionRetrieveParams",
    "subscriptions_update": "SubscriptionUpdateParams",
    "subscriptions_cancel": "SubscriptionCancelParams",
    "subscriptions_pause": "SubscriptionPauseParams",
    "subscriptions_resume": "SubscriptionResumeParams",
    "subscription_items_list": "SubscriptionItemListParams",
    "subscription_items_create": "SubscriptionItemCreateParams",
    "subscription_items_retrieve": "SubscriptionItemRetrieveParams",
    "subscription_items_update": "SubscriptionItemUpdateParams",
    "subscription_items_delete": "SubscriptionItemDeleteParams",
    "invoices_line_items": "InvoiceLineItemListParams",
    "invoice_payments_list": "InvoicePaymentListParams",
    "invoice_payments_retrieve": "InvoicePaymentRetrieveParams",
    "invoices_create_preview": "InvoiceCreatePreviewParams",
    "test_helpers_test_clocks_list": "test_helpers.TestClockListParams",
    "test_helpers_test_clocks_create": "test_helpers.TestClockCreateParams",
    "test_helpers_test_clocks_retrieve": "test_helpers.TestClockRetrieveParams",
    "test_helpers_test_clocks_delete": "test_helpers.TestClockDeleteParams",
    "test_helpers_test_clocks_advance": "test_helpers.TestClockAdvanceParams",
    "billing_portal_sessions_create": "billing_portal.SessionCreateParams",
    "customers_list": "CustomerListParams",
    "customers_create": "CustomerCreateParams",
    "customers_retrieve": "CustomerRetrieveParams",
    "customers_update": "CustomerUpdateParams",
    "customers_delete": "CustomerDeleteParams",
    "customers_payment_methods_list": "CustomerPaymentMethodListParams",
    "payment_methods_list": "PaymentMethodListParams",
    "payment_methods_create": "PaymentMethodCreateParams",
    "payment_methods_retrieve": "PaymentMethodRetrieveParams",
    "payment_methods_attach": "PaymentMethodAttachParams",
    "payment_methods_detach": "PaymentMethodDetachParams",
    "payment_links_list": "PaymentLinkListParams",
    "payment_links_create": "PaymentLinkCreateParams",
    "payment_links_retrieve": "PaymentLinkRetrieveParams",
    "payment_links_update": "PaymentLinkUpdateParams",
    "payment_links_line_items": "PaymentLinkLineItemListParams",
    "checkout_sessions_list": "checkout.SessionListParams",
    "checkout_sessions_create": "checkout.SessionCreateParams",
    "checkout_sessions_retrieve": "checkout.SessionRetrieveParams",
    "checkout_sessions_expire": "checkout.SessionExpireParams",
    "checkout_sessions_line_items": "checkout.SessionLineItemListParams",
    "payment_intents_list": "PaymentIntentListParams",
    "payment_intents_create": "PaymentIntentCreateParams",
    "payment_intents_retrieve": "PaymentIntentRetrieveParams",
    "payment_intents_update": "PaymentIntentUpdateParams",
    "payment_intents_confirm": "PaymentIntentConfirmParams",
    "payment_intents_cancel": "PaymentIntentCancelParams",
    "refunds_list": "RefundListParams",
    "refunds_create": "RefundCreateParams",
    "refunds_retrieve": "RefundRetrieveParams",
    "refunds_update": "RefundUpdateParams",
    "webhook_endpoints_list": "WebhookEndpointListParams",
    "webhook_endpoints_create": "WebhookEndpointCreateParams",
    "webhook_endpoints_retrieve": "WebhookEndpointRetrieveParams",
    "webhook_endpoints_update": "WebhookEndpointUpdateParams",
    "webhook_endpoints_delete": "WebhookEndpointDeleteParams",
    "events_list": "EventListParams",
    "events_retrieve": "EventRetrieveParams",
    # The Stripe CLI's `events resend`: an endpoint of Stripe's API that stripe-python has no method for.
    "events_retry": None,
}


def stripe_param_names(operation_id: str | None) -> frozenset[str]:
    """The top-level parameters Stripe has for this operation; empty when it has none or no such operation."""
    name = STRIPE_PARAMS.get(operation_id or "")
    return gateway.typed_param_names(name) if name else frozenset()
