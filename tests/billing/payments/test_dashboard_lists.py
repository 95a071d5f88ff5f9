"""The dashboard's lists as a merchant uses them: Stripe's status words, search, date range, CSV export, declines.

Payments are made for real (localstripe) through the services the hosted
page and the API use; the dashboard is read through Django's test client as
merchant staff.
"""

import csv
import io
import json
from datetime import UTC, timedelta

import pytest
from django.utils import timezone

from billing.checkout import services as checkout
from billing.models import PaymentIntent, Refund
from billing.payments import selectors
from billing.payments import services as payments
from kassa.errors import CardError
from merchants.admin_lists import csv_cell, typed_amount
from merchants.models import Membership
from tests import factories
from tests.webhooks.receiver import Receiver
from webhooks.services import delivery, endpoints, outbox

PAYMENTS = "/admin/billing/paymentintent/"
REFUNDS = "/admin/billing/refund/"
CUSTOMERS = "/admin/billing/customer/"
LINKS = "/admin/billing/paymentlink/"
DECLINED_AT_CHARGE = "4000000000000341"  # attaches, then declines when charged (as at Stripe)
DECLINED_AT_ATTACH = "4000000000000002"
THREE_D_SECURE = "4000002500003155"


def _session(merchant, *, unit_amount=2500, currency="eur", name="Tea"):
    price = factories.price(
        merchant, unit_amount=unit_amount, currency=currency, product=factories.product(merchant, name=name)
    )
    link = factories.payment_link(merchant, price=price)
    return checkout.checkout_session_from_link(payment_link=link, now=timezone.now())


def _pay(session, card_token, number="4242424242424242", email="p@example.com") -> PaymentIntent:
    return checkout.checkout_session_pay(now=timezone.now(), session=session, token=card_token(number), email=email)


def _declined(merchant, card_token, number=DECLINED_AT_CHARGE, **kwargs) -> PaymentIntent:
    session = _session(merchant, **kwargs)
    with pytest.raises(CardError):
        _pay(session, card_token, number)
    return PaymentIntent.objects.get(checkout_session=session)


def _csv(response) -> list[dict]:
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/csv")
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def _change_url(obj) -> str:
    return f"/admin/billing/{obj._meta.model_name}/{obj.pk}/change/"


@pytest.fixture
def states(paying_shop, card_token, stripe_backend):
    """One payment in each of Stripe's dashboard statuses."""
    m = paying_shop.merchant
    made = {
        "succeeded": _pay(_session(m, unit_amount=1000), card_token),
        "partially_refunded": _pay(_session(m, unit_amount=2000), card_token),
        "refunded": _pay(_session(m, unit_amount=3000), card_token),
        "incomplete": payments.payment_intent_create(
            now=timezone.now(), merchant=m, livemode=False, amount=4000, currency="eur"
        ),
        "failed": _declined(m, card_token, unit_amount=5000),
        "canceled": payments.payment_intent_create(
            now=timezone.now(), merchant=m, livemode=False, amount=6000, currency="eur"
        ),
        "three_d_secure": _pay(_session(m, unit_amount=7000), card_token, THREE_D_SECURE),
    }
    payments.refund_create(payment_intent=made["partially_refunded"], amount=500)
    payments.refund_create(payment_intent=made["refunded"])
    payments.payment_intent_cancel(payment_intent=made["canceled"])
    return made


# --- statuses ---------------------------------------------------------------------------------


def test_statuses_are_stripes_dashboard_words_in_lists_pages_filters_and_csv(client, paying_shop, states):
    expected = {
        "succeeded": ("succeeded", "Succeeded"),
        "partially_refunded": ("partially_refunded", "Partially refunded"),
        "refunded": ("refunded", "Refunded"),
        "incomplete": ("incomplete", "Incomplete"),
        "failed": ("failed", "Failed"),
        "canceled": ("canceled", "Canceled"),
        "three_d_secure": ("incomplete", "Incomplete"),
    }
    for key, payment in states.items():
        payment.refresh_from_db()
        assert selectors.payment_display_status(payment) == expected[key], key
    client.force_login(paying_shop.owner)
    listing = client.get(PAYMENTS)
    for word in ("Succeeded", "Partially refunded", "Refunded", "Incomplete", "Failed", "Canceled"):
        assert f">{word}</span>" in listing.text
    assert "Requires Payment Method" not in listing.text
    # The filter finds exactly the payments the function names.
    for code in selectors.DISPLAY_STATUSES:
        shown = client.get(PAYMENTS, {"status": code}).text
        for key, payment in states.items():
            assert (payment.public_id in shown) == (expected[key][0] == code), (code, key)
    # The page says it too, and the CSV.
    page = client.get(_change_url(states["partially_refunded"]))
    assert '<span class="kassa-status kassa-status--partially_refunded">Partially refunded</span>' in page.text
    rows = {row["id"]: row for row in _csv(client.get(f"{PAYMENTS}export/"))}
    assert {rows[p.public_id]["status"] for p in states.values()} == {
        "Succeeded",
        "Partially refunded",
        "Refunded",
        "Incomplete",
        "Failed",
        "Canceled",
    }


# --- declines: every attempt is on the payment ----------------------------------------------------------


def test_a_decline_at_charge_is_recorded_with_the_processors_reason(client, paying_shop, card_token):
    payment = _declined(paying_shop.merchant, card_token)
    assert payment.status == "requires_payment_method"
    assert payment.last_payment_error["code"] == "card_declined"
    assert payment.attempts.get().status == "failed"
    client.force_login(paying_shop.owner)
    page = client.get(_change_url(payment)).text
    timeline = page[page.index('id="kassa-timeline"') :]
    timeline = timeline[: timeline.index("</table>")]
    assert "<td>Failed</td>" in timeline
    assert "Your card was declined." in timeline
    assert "card_declined" in timeline
    attempts = page[page.index('id="kassa-attempts"') :]
    assert "•••• 0341" in attempts[: attempts.index("</table>")]
    assert "kassa-status--failed" in page
    listing = client.get(PAYMENTS, {"status": "failed"}).text
    assert payment.public_id in listing


def test_a_payer_declined_then_paid_with_3d_secure_keeps_the_decline_on_the_timeline(
    client, paying_shop, card_token, stripe_backend
):
    session = _session(paying_shop.merchant)
    with pytest.raises(CardError):
        _pay(session, card_token, DECLINED_AT_ATTACH)  # refused when the card is given
    with pytest.raises(CardError):
        _pay(session, card_token, DECLINED_AT_CHARGE)  # refused when charged
    payment = _pay(session, card_token, THREE_D_SECURE)
    stripe_backend.authenticate(payment.processor_id, payments.processor_client_secret(payment), success=True)
    checkout.checkout_session_sync(session=session, now=timezone.now())
    payment.refresh_from_db()
    assert payment.status == "succeeded"
    assert payment.last_payment_error is None  # as at Stripe, the last error goes once paid …
    kinds = list(payment.timeline.values_list("kind", flat=True))
    assert kinds == ["created", "payment_failed", "payment_failed", "requires_action", "succeeded"]  # … not the trace
    client.force_login(paying_shop.owner)
    page = client.get(_change_url(payment)).text
    timeline = page[page.index('id="kassa-timeline"') :]
    timeline = timeline[: timeline.index("</table>")]
    assert timeline.count("<td>Failed</td>") == 2
    assert "card not saved" in timeline  # the one refused at attach
    assert selectors.payment_display_status(payment) == ("succeeded", "Succeeded")


@pytest.mark.parametrize("number", [DECLINED_AT_ATTACH, DECLINED_AT_CHARGE], ids=["at-attach", "at-charge"])
def test_a_decline_reaches_the_merchants_receiver_as_payment_intent_payment_failed(paying_shop, card_token, number):
    with Receiver() as receiver:
        endpoint, _secret = endpoints.webhook_endpoint_create(
            merchant=paying_shop.merchant,
            livemode=False,
            url=receiver.plan("/hooks"),
            enabled_events=["payment_intent.payment_failed"],
        )
        payment = _declined(paying_shop.merchant, card_token, number)
        outbox.events_dispatch()  # what the dispatcher task does after the commit
        delivery.endpoint_deliver(endpoint_pk=endpoint.pk)
        (request,) = receiver.received("/hooks")
    event = json.loads(request.body)
    assert event["type"] == "payment_intent.payment_failed"
    obj = event["data"]["object"]
    assert (obj["id"], obj["status"]) == (payment.public_id, "requires_payment_method")
    assert (obj["last_payment_error"]["type"], obj["last_payment_error"]["code"]) == ("card_error", "card_declined")


# --- search ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("12.50", "12.50"),
        ("12,50", "12.50"),
        ("1250", "1250"),
        ("1,250.00", "1250.00"),
        ("1.250,00", "1250.00"),
        ("1 250,5", "1250.5"),
        ("1,250", "1250"),
        ("pi_123", None),
        ("12.5.1", None),
        ("", None),
    ],
)
def test_amounts_are_read_as_people_type_them(typed, expected):
    value = typed_amount(typed)
    assert (str(value) if value is not None else None) == expected


def test_search_finds_amounts_in_major_units_ids_and_emails(client, paying_shop, card_token):
    m = paying_shop.merchant
    euros = _pay(_session(m, unit_amount=1250), card_token, email="Ada@Example.com")
    yen = _pay(_session(m, unit_amount=1250, currency="jpy"), card_token, email="bob@example.com")
    other = _pay(_session(m, unit_amount=999), card_token, email="cy@example.com")
    refund = payments.refund_create(payment_intent=other, amount=250)
    client.force_login(paying_shop.owner)

    def found(url, q):
        text = client.get(url, {"q": q}).text
        return {p.public_id for p in (euros, yen, other) if _change_url(p) in text}

    assert found(PAYMENTS, "12.50") == {euros.public_id}  # 12.50 EUR; never 1250 JPY read as 12.50
    assert found(PAYMENTS, "12,50") == {euros.public_id}
    assert found(PAYMENTS, "1250") == {yen.public_id}  # 1,250 JPY; 1250 is never read as cents
    assert found(PAYMENTS, "9.99") == {other.public_id}
    assert found(PAYMENTS, "ada@example.com") == {euros.public_id}
    assert found(PAYMENTS, euros.customer.public_id) == {euros.public_id}
    assert found(PAYMENTS, refund.public_id) == {other.public_id}
    assert found(PAYMENTS, yen.public_id) == {yen.public_id}
    refunds = client.get(REFUNDS, {"q": "2.50"}).text
    assert _change_url(refund) in refunds
    assert _change_url(refund) not in client.get(REFUNDS, {"q": "2.51"}).text
    assert _change_url(refund) in client.get(REFUNDS, {"q": "cy@example.com"}).text
    customers = client.get(CUSTOMERS, {"q": euros.customer.public_id}).text
    assert _change_url(euros.customer) in customers
    assert _change_url(yen.customer) not in customers


# --- CSV export ------------------------------------------------------------------------------------------


def test_the_payments_csv_is_what_the_list_shows_in_major_units(client, paying_shop, card_token):
    m = paying_shop.merchant
    paid = _pay(_session(m, unit_amount=1250), card_token)
    payments.refund_create(payment_intent=paid, amount=250)
    yen = _pay(_session(m, unit_amount=500, currency="jpy"), card_token, email="yen@example.com")
    declined = _declined(m, card_token, unit_amount=777)
    client.force_login(paying_shop.owner)

    response = client.get(f"{PAYMENTS}export/")
    assert response["Content-Disposition"].startswith('attachment; filename="payments-test-')
    rows = {row["id"]: row for row in _csv(response)}
    assert set(rows) == {paid.public_id, yen.public_id, declined.public_id}
    row = rows[paid.public_id]
    assert (row["amount"], row["amount_refunded"], row["currency"], row["status"]) == (
        "12.50",
        "2.50",
        "EUR",
        "Partially refunded",
    )
    assert (row["customer_id"], row["customer_email"]) == (paid.customer.public_id, "p@example.com")
    assert row["created"] == paid.created.astimezone(UTC).isoformat().replace("+00:00", "Z")
    assert (rows[yen.public_id]["amount"], rows[yen.public_id]["currency"]) == ("500", "JPY")
    assert rows[declined.public_id]["status"] == "Failed"
    assert "Your card was declined." in rows[declined.public_id]["decline_reason"]

    # The list's filters and search apply: "export what I see".
    assert [r["id"] for r in _csv(client.get(f"{PAYMENTS}export/", {"status": "failed"}))] == [declined.public_id]
    assert [r["id"] for r in _csv(client.get(f"{PAYMENTS}export/", {"q": "yen@example.com"}))] == [yen.public_id]
    # The list links to its export with the same query.
    listing = client.get(PAYMENTS, {"status": "failed"})
    assert f'href="{PAYMENTS}export/?status=failed"' in listing.text


def test_the_exports_take_a_date_range(client, paying_shop, card_token):
    m = paying_shop.merchant
    old = _pay(_session(m, unit_amount=1000), card_token)
    new = _pay(_session(m, unit_amount=2000), card_token)
    ten_days_ago = timezone.now() - timedelta(days=10)
    PaymentIntent.objects.filter(pk=old.pk).update(created=ten_days_ago)
    old_refund = payments.refund_create(payment_intent=old, amount=100)
    Refund.objects.filter(pk=old_refund.pk).update(created=ten_days_ago)
    new_refund = payments.refund_create(payment_intent=new, amount=100)
    client.force_login(paying_shop.owner)
    today = timezone.localdate()
    day = timezone.localdate(ten_days_ago)
    recent = {"created_from": (today - timedelta(days=2)).isoformat(), "created_to": today.isoformat()}
    back_then = {"created_from": day.isoformat(), "created_to": day.isoformat()}

    assert [r["id"] for r in _csv(client.get(f"{PAYMENTS}export/", recent))] == [new.public_id]
    assert [r["id"] for r in _csv(client.get(f"{PAYMENTS}export/", back_then))] == [old.public_id]
    assert [r["id"] for r in _csv(client.get(f"{REFUNDS}export/", recent))] == [new_refund.public_id]
    assert [r["id"] for r in _csv(client.get(f"{REFUNDS}export/", back_then))] == [old_refund.public_id]
    listing = client.get(PAYMENTS, back_then).text
    assert old.public_id in listing
    assert new.public_id not in listing
    assert f'name="created_from" value="{day.isoformat()}"' in listing
    # A mistyped date filters nothing rather than breaking the page.
    assert client.get(PAYMENTS, {"created_from": "yesterday"}).status_code == 200


def test_the_refunds_and_customers_csv(client, paying_shop, card_token):
    m = paying_shop.merchant
    paid = _pay(_session(m, unit_amount=1250), card_token, email="ada@example.com")
    refund = payments.refund_create(payment_intent=paid, amount=250, reason="requested_by_customer")
    client.force_login(paying_shop.owner)
    (row,) = _csv(client.get(f"{REFUNDS}export/"))
    assert (row["id"], row["amount"], row["currency"], row["status"], row["reason"]) == (
        refund.public_id,
        "2.50",
        "EUR",
        "Succeeded",
        "Requested by customer",
    )
    assert (row["payment_id"], row["customer_email"]) == (paid.public_id, "ada@example.com")
    (row,) = _csv(client.get(f"{CUSTOMERS}export/"))
    assert (row["id"], row["email"], row["deleted"]) == (paid.customer.public_id, "ada@example.com", "false")
    assert row["created"].endswith("Z")


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(client, paying_shop):
    m = paying_shop.merchant
    for i, evil in enumerate(['=HYPERLINK("https://evil.test","x")', "+1+1", "-2+3", "@SUM(A1)", "\t=1"]):
        payments.payment_intent_create(
            now=timezone.now(), merchant=m, livemode=False, amount=100 + i, currency="eur", description=evil
        )
    factories.customer(m, email="ok@example.com", name="=cmd|' /C calc'!A0", phone="+33 1 23 45 67 89")
    client.force_login(paying_shop.owner)
    descriptions = sorted(r["description"] for r in _csv(client.get(f"{PAYMENTS}export/")))
    assert all(d.startswith("'") for d in descriptions), descriptions
    assert '\'=HYPERLINK("https://evil.test","x")' in descriptions
    (customer,) = _csv(client.get(f"{CUSTOMERS}export/"))
    assert customer["name"] == "'=cmd|' /C calc'!A0"
    assert customer["phone"] == "+33 1 23 45 67 89"  # a phone number is not a formula: kept as typed
    assert csv_cell("-12") == "-12"
    assert csv_cell("12.50") == "12.50"
    assert csv_cell(None) == ""


def test_exports_are_scoped_to_the_merchant_and_mode_and_open_to_viewers(client, paying_shop, card_token):
    m = paying_shop.merchant
    mine = _pay(_session(m, unit_amount=1250), card_token, email="mine@example.com")
    payments.refund_create(payment_intent=mine, amount=100)
    other = factories.merchant("Other")
    factories.customer(other.merchant, email="theirs@other.test")
    payments.payment_intent_create(
        now=timezone.now(), merchant=other.merchant, livemode=False, amount=1250, currency="eur"
    )
    live = payments.payment_intent_create(now=timezone.now(), merchant=m, livemode=True, amount=1250, currency="eur")
    factories.customer(m, email="live@example.com", livemode=True)

    viewer = factories.staff(m, Membership.Role.VIEWER)
    client.force_login(viewer)
    assert [r["id"] for r in _csv(client.get(f"{PAYMENTS}export/"))] == [mine.public_id]
    assert [r["email"] for r in _csv(client.get(f"{CUSTOMERS}export/"))] == ["mine@example.com"]
    assert len(_csv(client.get(f"{REFUNDS}export/"))) == 1
    client.post("/admin/switch/mode/", {"livemode": "1"})
    assert [r["id"] for r in _csv(client.get(f"{PAYMENTS}export/"))] == [live.public_id]
    assert [r["email"] for r in _csv(client.get(f"{CUSTOMERS}export/"))] == ["live@example.com"]
    assert _csv(client.get(f"{REFUNDS}export/")) == []

    # The other merchant's owner exports only their own; a stranger gets the login page.
    client.force_login(other.owner)
    assert mine.public_id not in json.dumps(_csv(client.get(f"{PAYMENTS}export/")))
    assert [r["email"] for r in _csv(client.get(f"{CUSTOMERS}export/"))] == ["theirs@other.test"]
    client.logout()
    assert client.get(f"{PAYMENTS}export/")["Location"].startswith("/admin/login/")


# --- names instead of ids ------------------------------------------------------------------------------


def test_links_are_known_by_what_they_sell(client, paying_shop):
    m = paying_shop.merchant
    tea = factories.price(m, unit_amount=450, product=factories.product(m, name="Green tea"))
    cake = factories.price(m, unit_amount=300, product=factories.product(m, name="Lemon cake"))
    link = checkout.payment_link_create(
        merchant=m, livemode=False, line_items=[{"price": tea, "quantity": 2}, {"price": cake, "quantity": 1}]
    )
    client.force_login(paying_shop.owner)
    listing = client.get(LINKS).text
    assert "Green tea \u00d7 2, Lemon cake" in listing
    assert "12.00 EUR" in listing
    checkout.checkout_session_from_link(payment_link=link, now=timezone.now())
    assert "Green tea \u00d7 2, Lemon cake" in client.get("/admin/billing/checkoutsession/").text


def test_platform_staff_exporting_every_merchant_see_whose_each_row_is(client, paying_shop, card_token):
    paid = _pay(_session(paying_shop.merchant, unit_amount=1250), card_token, email="ada@example.com")
    payments.refund_create(payment_intent=paid, amount=250)
    client.force_login(factories.platform_staff())
    for url in (PAYMENTS, REFUNDS, CUSTOMERS):
        (row,) = _csv(client.get(f"{url}export/"))
        assert row["merchant"] == "Shop", url
    # One merchant in view: the column would say the same on every row, so there is none.
    client.force_login(paying_shop.owner)
    (row,) = _csv(client.get(f"{PAYMENTS}export/"))
    assert "merchant" not in row
