"""Every write of the webhooks app.

``inbound`` (Stripe's events in), ``outbox`` (Kassa's events, written with
the change), ``delivery`` (sending them, retries, the sweeper),
``endpoints`` (merchants' endpoints, resends).
"""
