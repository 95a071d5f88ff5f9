"""Dashboard sweep: every registered admin model, every URL its ModelAdmin serves, as another merchant's staff.

Merchant A ("Aardvark") has one object of every model registered with the
admin. Merchant B's owner then requests every object URL of every ModelAdmin
(change, history, delete, the redirect at ``<id>/``, and custom views such as
roll, revoke, check, activation, refund, status, test, resend, rerun) with
A's primary keys, by GET and by POST. Every answer is a 404 (or a 403), or a
redirect to the dashboard's index or the model's list saying the object does
not exist, never a page showing A's object; no POST changes A's object; no
page (lists, searches, CSV exports and add forms included) shows A's names,
emails or ids.

The models and URLs come from ``admin.site`` itself, so a new model or a new
button is swept without anyone writing a test for it; a new model needs an
entry in ``FACTORIES`` and the sweep says so.
"""

import re

import pytest
from django.contrib import admin
from django.test import Client

from billing.catalogue import services as billing
from tests import factories

NAME = "Aardvark"  # every name and email of A's carries it: a page that shows it shows A's data

# One body for every POST: whatever the view reads (roll, refund, status …), it finds a plausible value.
POST_BODY = {
    "post": "yes",
    "_save": "Save",
    "name": "Changed by B",
    "email": "changed@bluejay.test",
    "expires_in": "0",
    "expire_old_in": "0",
    "active": "0",
    "disabled": "1",
    "amount": "0.01",
    "request_key": "r" * 32,
    "reason": "",
}


@pytest.fixture
def sweep(db, stripe_backend, card_token, client):
    a = factories.every_dashboard_object(NAME, card_token)
    b = factories.merchant("Bluejay")
    # B has objects of its own, so its lists are not trivially empty.
    billing.customer_create(merchant=b.merchant, livemode=False, email="payer@bluejay.test")
    billing.product_create(merchant=b.merchant, livemode=False, name="Bluejay tea")
    client.force_login(b.owner)
    missing = [model._meta.label for model in admin.site._registry if model._meta.label not in a["objects"]]
    assert not missing, f"add a factory for {', '.join(missing)} in every_dashboard_object (tests/factories.py)"
    a["secrets"] = _identifying(a)
    return a


def _identifying(a) -> list[str]:
    """What identifies A's data on a page: its name (in every name and email of A's), public ids, secrets."""
    found = [NAME.lower(), a["shop"].merchant.public_id, a["shop"].secret_key.secret, a["card"].public_id]
    for obj in a["objects"].values():
        for attribute in ("public_id", "stripe_event_id", "url", "email"):
            value = getattr(obj, attribute, None)
            if isinstance(value, str) and value:
                found.append(value)
    return found


def _body(response) -> str:
    """A page's text, or a streamed export's (CSV) in full."""
    raw = b"".join(response.streaming_content) if response.streaming else response.content
    return raw.decode(errors="replace")


def _shown(page: str, secrets: list[str]) -> list[str]:
    lowered = page.lower()
    return [s for s in secrets if s.lower() in lowered]


def _snapshot(a) -> dict:
    return {label: type(obj)._default_manager.filter(pk=obj.pk).values().first() for label, obj in a["objects"].items()}


def _admin_urls():
    """(model label, base URL, URL pattern, name) for every URL of every registered ModelAdmin."""
    for model, model_admin in admin.site._registry.items():
        base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        for pattern in model_admin.get_urls():
            yield model._meta.label, base, str(pattern.pattern), pattern.name or ""


def _fill(pattern: str, pk) -> str:
    return re.sub(r"<[^>]+>", str(pk), pattern)


def _landed_safely(response, base: str) -> str | None:
    """None when the answer is a 403/404, or a redirect to the index or the model's list saying it is missing."""
    if not response.redirect_chain:
        return None if response.status_code in (403, 404) else f"answered {response.status_code} without redirect"
    final = response.request["PATH_INFO"]
    if response.status_code in (403, 404):
        return None
    if final not in ("/admin/", base):
        return f"redirected to {final} ({response.status_code})"
    if "exist. Perhaps it was deleted?" not in response.text:
        return f"redirected to {final} without saying the object does not exist"
    return None


def test_the_sweep_covers_every_registered_model_and_its_custom_views():
    urls = list(_admin_urls())
    labels = {label for label, *_ in urls}
    assert len(labels) >= 15
    object_urls = [u for u in urls if "<" in u[2]]
    custom = {name for *_, name in object_urls if not name.endswith(("_change", "_delete", "_history"))}
    for expected in ("apikey_roll", "apikey_revoke", "processorcredential_check", "paymentintent_refund"):
        assert any(name.endswith(expected) for name in custom), (expected, sorted(custom))
    for expected in (
        "webhookendpoint_test",
        "webhookendpoint_deliveries",
        "event_resend",
        "event_deliveries",
        "processorevent_rerun",
        "paymentlink_activation",
        "customer_card_default",
        "customer_card_remove",
        "subscription_change_items",
        "subscription_pause_collection",
        "subscription_resume_collection",
        "subscription_pause",
        "subscription_resume",
        "subscription_cancel",
        "subscription_keep",
    ):
        assert any(name.endswith(expected) for name in custom), (expected, sorted(custom))
    exports = {name for *_, name in urls if name.endswith("_export")}
    assert {
        "billing_paymentintent_export",
        "billing_refund_export",
        "billing_customer_export",
        "billing_subscription_export",
    } <= exports
    # Pages of a model's that are no list: B's own (the sweep of lists and forms requests them too).
    assert any(name == "billing_subscription_recurring" for *_, name in urls)


def test_another_merchants_staff_reach_no_object_page_of_a(client, sweep):
    """B's owner with A's ids on every object URL (GET and POST): missing, never A's page, nothing changed."""
    a, failures, swept = sweep, [], 0
    # The control: platform staff looking at A see A's object on these pages, so the checks below would see it.
    platform = Client()
    platform.force_login(factories.platform_staff())
    platform.post("/admin/switch/merchant/", {"merchant": a["shop"].merchant.public_id})
    for label, base, pattern, name in _admin_urls():
        if name.endswith("_change"):
            page = platform.get(base + _fill(pattern, a["objects"][label].pk))
            assert page.status_code == 200, (label, page.status_code)
            assert _shown(page.text, a["secrets"]), f"{label}'s change page shows none of {a['secrets']}"
    before = _snapshot(a)
    for label, base, pattern, name in _admin_urls():
        if "<" not in pattern:
            continue
        url = base + _fill(pattern, a["objects"][label].pk)
        for method in ("get", "post"):
            swept += 1
            # POST: what a button's form sends, and a delete confirmation.
            body = {**POST_BODY, "payment_method": a["card"].public_id}
            response = client.get(url, follow=True) if method == "get" else client.post(url, body, follow=True)
            problem = _landed_safely(response, base)
            shown = _shown(_body(response), a["secrets"])
            if shown:
                problem = (problem + "; " if problem else "") + f"the page shows A's {shown}"
            after = _snapshot(a)
            changed = [k for k in after if after[k] != before[k]]
            if changed:
                problem = (problem + "; " if problem else "") + f"changed A's {changed}"
                before = after
            if problem:
                chain = " -> ".join(f"{u} ({s})" for u, s in response.redirect_chain)
                excerpt = re.sub(r"\s+", " ", _body(response))[:300]
                failures.append(f"{method.upper()} {url} [{name}]: {problem}\n    chain: {chain}\n    {excerpt}")
    assert swept >= 100
    assert not failures, f"{len(failures)} of {swept} requests:\n" + "\n".join(failures)


@pytest.mark.parametrize("switched", [False, True], ids=["own-merchant", "after-trying-to-switch-to-A"])
def test_another_merchants_lists_searches_and_forms_show_nothing_of_a(client, sweep, switched):
    """Every list (plain and searched for A's name and ids) and add form of B's: nothing of A's.

    Also after B's owner asks the merchant switcher for A: the scope is re-checked against memberships.
    """
    a, failures = sweep, []
    if switched:
        client.post("/admin/switch/merchant/", {"merchant": a["shop"].merchant.public_id})
    searches = [
        None,
        NAME,
        "payer@aardvark.test",
        *(o.public_id for o in a["objects"].values() if hasattr(o, "public_id")),
    ]
    for label, base, pattern, _name in _admin_urls():
        if "<" in pattern:
            continue
        # Lists and their CSV exports (the list's own queryset) are searched for A's name and ids.
        for q in searches if pattern in ("", "export/") else [None]:
            response = client.get(base + pattern, {"q": q} if q else {})
            # The page repeats the search term (the search box, "0 results for …"): that is not A's data.
            secrets = [secret for secret in a["secrets"] if not (q and secret.lower() in q.lower())]
            shown = _shown(_body(response), secrets)
            if response.status_code not in (200, 302, 403) or shown:
                failures.append(f"GET {base}{pattern} q={q!r} [{label}]: {response.status_code}, shows A's {shown}")
            if response.status_code == 200 and pattern == "":
                obj = a["objects"][label]
                if f"{base}{obj.pk}/change/" in response.text:
                    failures.append(f"GET {base} q={q!r}: links to A's {label} {obj.pk}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("mode", ["test", "live"])
def test_another_merchants_home_page_and_its_other_pages_show_nothing_of_a(client, sweep, mode):
    """The home page (A has a payment, a refund, a customer) and every page added to the site (its chart)."""
    a = sweep
    if mode == "live":
        client.post("/admin/switch/mode/", {"livemode": "1"})
    pages = ["/admin/", *(f"/admin/{route}" for route in admin.site.added_pages())]
    assert "/admin/home/volume.svg" in pages
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert not _shown(response.content.decode(), a["secrets"]), url
        assert "20.00" not in response.content.decode(), url  # A's payment, on the home page or as a bar
    # The control: A's own owner sees A's payment there, in test mode only.
    owner = Client()
    owner.force_login(a["shop"].owner)
    if mode == "live":
        owner.post("/admin/switch/mode/", {"livemode": "1"})
    home = owner.get("/admin/").content.decode()
    assert ("20.00 EUR" in home) is (mode == "test")
