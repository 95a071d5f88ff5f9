"""Developers > Test clocks: the list, a clock's page, and "Advance time" moving the clock's customers."""

from datetime import timedelta

from django.utils import timezone

from billing.clocks import services as clocks
from billing.models import TestClock
from merchants.models import Membership
from tests import factories


def test_advance_time_from_a_clocks_page(db, client, emails_on_commit):
    shop = factories.merchant("Clocked")
    start = timezone.now().replace(microsecond=0)
    clock = clocks.clock_create(merchant=shop.merchant, livemode=False, frozen_time=start, name="Year one")
    client.force_login(shop.owner)
    listing = client.get("/admin/billing/testclock/")
    assert listing.status_code == 200
    assert "Year one" in listing.text
    page = client.get(f"/admin/billing/testclock/{clock.pk}/change/")
    assert f"/admin/billing/testclock/{clock.pk}/advance/" in page.text

    url = f"/admin/billing/testclock/{clock.pk}/advance/"
    refused = client.post(url, {"frozen_time": (start - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")})
    assert refused.status_code == 200
    assert "later than" in refused.text
    with emails_on_commit():
        moved = client.post(url, {"frozen_time": (start + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")})
    assert moved.status_code == 302
    clock.refresh_from_db()
    assert (clock.status, clock.frozen_time) == (TestClock.Status.READY, start.replace(second=0) + timedelta(days=3))


def test_a_viewer_cannot_advance(db, client):
    shop = factories.merchant("Clocked")
    clock = clocks.clock_create(merchant=shop.merchant, livemode=False, frozen_time=timezone.now())
    viewer = factories.staff(shop.merchant, Membership.Role.VIEWER)
    client.force_login(viewer)
    assert client.get(f"/admin/billing/testclock/{clock.pk}/change/").status_code == 200
    assert client.post(f"/admin/billing/testclock/{clock.pk}/advance/", {}).status_code == 403
