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
    clock = clocks.clock_create(
        now=timezone.now(), merchant=shop.merchant, livemode=False, frozen_time=start, name="Year one"
    )
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
    clock = clocks.clock_create(now=timezone.now(), merchant=shop.merchant, livemode=False, frozen_time=timezone.now())
    viewer = factories.staff(shop.merchant, Membership.Role.VIEWER)
    client.force_login(viewer)
    assert client.get(f"/admin/billing/testclock/{clock.pk}/change/").status_code == 200
    assert client.post(f"/admin/billing/testclock/{clock.pk}/advance/", {}).status_code == 403


def test_a_clock_customers_page_shows_the_clock_and_advances_it(db, client, emails_on_commit):
    shop = factories.merchant("Clocked")
    start = timezone.now().replace(microsecond=0)
    clock = clocks.clock_create(
        now=timezone.now(), merchant=shop.merchant, livemode=False, frozen_time=start, name="Renewals"
    )
    on_clock = factories.customer(shop.merchant, email="clocked@example.com", test_clock=clock)
    plain = factories.customer(shop.merchant, email="plain@example.com")
    client.force_login(shop.owner)

    page = client.get(f"/admin/billing/customer/{on_clock.pk}/change/")
    assert 'id="kassa-customer-clock"' in page.text
    assert "Renewals" in page.text
    advance = f"/admin/billing/testclock/{clock.pk}/advance/"
    assert f'href="{advance}"' in page.text
    # A customer on the wall clock has no such section.
    assert 'id="kassa-customer-clock"' not in client.get(f"/admin/billing/customer/{plain.pk}/change/").text

    with emails_on_commit():
        moved = client.post(advance, {"frozen_time": (start + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M")})
    assert moved.status_code == 302
    clock.refresh_from_db()
    assert clock.frozen_time == start.replace(second=0) + timedelta(days=30)

    # A viewer sees the clock but no button to move it.
    viewer = factories.staff(shop.merchant, Membership.Role.VIEWER)
    client.force_login(viewer)
    seen = client.get(f"/admin/billing/customer/{on_clock.pk}/change/")
    assert 'id="kassa-customer-clock"' in seen.text
    assert advance not in seen.text
