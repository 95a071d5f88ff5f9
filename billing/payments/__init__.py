"""Taking money: saved cards, PaymentIntents (two-phase confirms, a timeline), refunds, reconciliation.

Knows nothing of who owns a payment: owners (checkout, invoices) register
hooks with ``services.on_payment_intent_succeeded`` and ``services.payment_intent_owner``.
"""
