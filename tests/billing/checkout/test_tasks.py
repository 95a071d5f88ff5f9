"""Beat's sweeps, run as a worker would run them."""

from django.utils import timezone

from billing.catalogue import services
from billing.checkout import services as checkout
from billing.checkout.tasks import checkout_sessions_expire
from billing.models import CheckoutSession
from kassa.celery import app


def test_expired_sessions_are_swept_and_a_second_run_changes_nothing(shop):
    m = shop.merchant
    price = services.price_create(
        merchant=m, livemode=False, product_data={"name": "X"}, currency="usd", unit_amount=500
    )
    link = checkout.payment_link_create(merchant=m, livemode=False, line_items=[{"price": price}])
    due, fresh = (
        checkout.checkout_session_from_link(now=timezone.now(), payment_link=link),
        checkout.checkout_session_from_link(now=timezone.now(), payment_link=link),
    )
    CheckoutSession.objects.filter(pk=due.pk).update(expires_at=due.created)
    assert checkout_sessions_expire.apply().get() == 1
    assert checkout_sessions_expire.apply().get() == 0
    due.refresh_from_db()
    fresh.refresh_from_db()
    assert (due.status, fresh.status) == ("expired", "open")


def test_beat_runs_the_sweep_every_minute():
    entries = {e["task"]: e["schedule"] for e in app.conf.beat_schedule.values()}
    assert entries["billing.tasks.checkout_sessions_expire"] == 60.0
