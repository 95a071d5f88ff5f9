"""Every page of the dashboard opens: each registered model's list, search, add and change pages.

One walk over ``admin.site``, so a new model is covered the day it is
registered (and fails with "add a factory for …" until tests/factories.py can
make one). As platform staff, who see everything, and as a merchant's owner,
who sees that merchant's pages and none of the platform's records.
"""

import re

import pytest
from django.contrib import admin

from merchants.admin_base import LedgerAdmin
from tests import factories

# Platform records (users, login lockouts, two-factor devices): merchant staff never see them.
PLATFORM_ONLY_APPS = {"auth", "axes", "otp_totp", "otp_static"}


@pytest.mark.parametrize("who", ["platform", "owner"])
def test_every_registered_page_opens(db, client, stripe_backend, card_token, who):
    made = factories.every_dashboard_object("Smoke", card_token)
    merchant = made["shop"].merchant
    missing = [m._meta.label for m in admin.site._registry if m._meta.label not in made["objects"]]
    assert not missing, f"add a factory for {', '.join(missing)} in every_dashboard_object (tests/factories.py)"
    if who == "platform":
        client.force_login(factories.platform_staff())
        client.post("/admin/switch/merchant/", {"merchant": merchant.public_id})
    else:
        client.force_login(made["shop"].owner)

    problems = []
    # The home page and the site's own pages (merchants/admin_site.py add_page: the home's chart).
    for url in ["/admin/", *(f"/admin/{route}" for route in admin.site.added_pages())]:
        response = client.get(url)
        if response.status_code != 200:
            problems.append(f"{url}: {response.status_code}, expected 200")
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        base = f"/admin/{opts.app_label}/{opts.model_name}/"
        obj = made["objects"][opts.label]
        visible = who == "platform" or opts.app_label not in PLATFORM_ONLY_APPS
        # A list may lead straight to the one object a merchant has (its invoice settings): followed.
        pages = {
            "list": client.get(base, follow=True),
            "search": client.get(base, {"q": "x"}, follow=True),
            "change": client.get(f"{base}{obj.pk}/change/"),
            "add": client.get(f"{base}add/"),
        }
        for page, response in pages.items():
            if page == "add" and isinstance(model_admin, LedgerAdmin):
                expected = (403,)  # records of what happened have no add page
            elif page == "add":
                expected = (200, 403) if visible else (403,)  # some adds are for certain roles only
            else:
                expected = (200,) if visible else (403, 302)
            if response.status_code not in expected:
                problems.append(f"{opts.label} {page}: {response.status_code}, expected {expected}")
        if visible:
            problems += _own_pages(client, model_admin, opts.label, base, obj.pk)
        shown = f"{base}{obj.pk}/change/" in pages["list"].text or pages["list"].request["PATH_INFO"].endswith(
            f"{base}{obj.pk}/change/"
        )
        if visible and not shown:
            problems.append(f"{opts.label} list does not show the object")
    assert not problems, "\n".join(problems)


def _own_pages(client, model_admin, label: str, base: str, pk) -> list[str]:
    """The admin's own pages beyond Django's: a page of the model's (an export, a shortcut such as
    Subscriptions' Recurring payment) opens; an object's (a button's form, a POST-only button's 405, a logo
    that is not there) answers without an error."""
    problems = []
    for pattern in model_admin.get_urls():
        route, name = re.sub(r"<[^>]+>", str(pk), str(pattern.pattern)), pattern.name or ""
        if not name or route in ("", "add/") or name.endswith(("_change", "_delete", "_history")):
            continue  # Django's own pages (the test's) and its unnamed <path:object_id>/ redirect
        response = client.get(f"{base}{route}")
        if response.status_code >= 500 or ("<" not in str(pattern.pattern) and response.status_code != 200):
            problems.append(f"{label} {route} ({name}): {response.status_code}")
    return problems
