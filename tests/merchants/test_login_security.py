"""Logging in to the dashboard: lockout after failed attempts (django-axes) and two-factor codes (django-otp).

Everything goes through the real login form and dashboard pages. Two-factor
codes are computed the way an authenticator app does: from the key shown on
the set-up page and the clock.
"""

import html as htmllib
import re
import time
from base64 import b32decode

import pytest
from django.core.management import call_command
from django_otp.oath import TOTP

from merchants import login
from merchants.models import Membership, Merchant
from tests import factories

LOCKED = "Too many failed login attempts"
PASSWORD = "pw"  # tests.factories' password for every user

LOGIN_REFUSED = str(login.LOGIN_REFUSED)  # lazy: the English words


def log_in(client, username, password=PASSWORD, code="", ip="198.51.100.1", **headers):
    data = {"username": username, "password": password}
    if code:
        data["otp_token"] = code
    return client.post("/admin/login/?next=/admin/", data, REMOTE_ADDR=ip, **headers)


def logged_in(client) -> bool:
    return client.get("/admin/").status_code == 200


def app_code(secret: str, *, steps_ahead: int = 0) -> str:
    """What an authenticator app shows for this key now (or steps_ahead times 30 s from now).

    Never in a step's last 3 s: a code typed then may be checked in the next step, and
    django-otp then remembers a drift of -1 that shifts the window the next code must fall in.
    """
    if 30 - time.time() % 30 < 3:
        time.sleep(30 - time.time() % 30 + 0.1)
    totp = TOTP(b32decode(secret + "=" * (-len(secret) % 8)), step=30, digits=6)
    totp.time = time.time() + 30 * steps_ahead
    return f"{totp.token():06d}"


def set_up_two_factor(client) -> tuple[str, list[str]]:
    """The logged-in user switches two-factor on from the dashboard; returns the key and the backup codes."""
    page = client.get("/admin/two-factor/")
    assert page.status_code == 200
    assert "<svg" in page.text  # the QR code
    secret = re.search(r'id="kassa-2fa-secret">([A-Z2-7]+)<', page.text).group(1)
    done = client.post("/admin/two-factor/", {"action": "confirm", "token": app_code(secret)})
    assert done.status_code == 200
    assert "no-store" in done["Cache-Control"]
    codes = re.findall(r'class="kassa-backup-code">([a-z2-7]+)<', done.text)
    assert len(codes) == 10
    return secret, codes


@pytest.fixture
def shop(db):
    return factories.merchant("Alpha")


# --- lockout ----------------------------------------------------------------


def test_five_wrong_passwords_lock_the_user_out_even_with_the_right_one(client, shop):
    username = shop.owner.username
    for _ in range(4):
        wrong = log_in(client, username, "wrong")
        assert wrong.status_code == 200
        assert "Please enter the correct" in wrong.text
    fifth = log_in(client, username, "wrong")
    assert fifth.status_code == 429
    assert LOCKED in fifth.text

    refused = log_in(client, username, "pw")
    assert refused.status_code == 429
    assert LOCKED in refused.text
    assert "Try again in 15 minutes, or ask platform staff" in " ".join(refused.text.split())
    assert not logged_in(client)


def test_the_user_name_is_counted_whatever_its_case(client, shop):
    username = shop.owner.username
    for variant in (username, username.upper(), f" {username}", username.title(), username):
        log_in(client, variant, "wrong")
    assert log_in(client, username).status_code == 429


def test_a_locked_out_user_does_not_lock_out_another_user_at_another_address(client, shop, django_user_model):
    colleague = factories.staff(shop.merchant, Membership.Role.ADMIN)
    for _ in range(5):
        log_in(client, shop.owner.username, "wrong", ip="198.51.100.1")
    assert log_in(client, shop.owner.username, ip="198.51.100.1").status_code == 429

    assert log_in(client, colleague.username, ip="203.0.113.9").status_code == 302
    assert logged_in(client)


def test_one_address_trying_many_user_names_is_locked_out(client, shop):
    colleague = factories.staff(shop.merchant, Membership.Role.ADMIN)
    for n in range(5):
        log_in(client, f"guess{n}@alpha.test", "wrong", ip="192.0.2.7")
    # The right password of a real user, from that address: refused.
    assert log_in(client, colleague.username, ip="192.0.2.7").status_code == 429
    # The same user from their own address is not affected.
    assert log_in(client, colleague.username, ip="203.0.113.9").status_code == 302


def test_forwarded_for_is_ignored_unless_proxies_are_trusted(client, shop, settings):
    # No trusted proxy (the default): a client cannot dodge the per-address count by inventing X-Forwarded-For.
    for n in range(5):
        log_in(client, f"guess{n}@alpha.test", "wrong", ip="192.0.2.7", HTTP_X_FORWARDED_FOR=f"10.9.9.{n}")
    assert log_in(client, shop.owner.username, ip="192.0.2.7").status_code == 429


def test_behind_one_trusted_proxy_the_client_is_the_address_it_forwarded(client, shop, settings):
    settings.KASSA_TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.2"
    # The client prepends made-up hops; the proxy appends the address it really saw.
    for n in range(5):
        forwarded = f"10.9.9.{n}, 192.0.2.7"
        log_in(client, f"guess{n}@alpha.test", "wrong", ip=proxy, HTTP_X_FORWARDED_FOR=forwarded)
    assert log_in(client, shop.owner.username, ip=proxy, HTTP_X_FORWARDED_FOR="192.0.2.7").status_code == 429
    # Another client behind the same proxy is not locked out.
    assert log_in(client, shop.owner.username, ip=proxy, HTTP_X_FORWARDED_FOR="192.0.2.99").status_code == 302


def test_platform_staff_unlock_a_user_from_the_dashboard(client, shop):
    username = shop.owner.username
    for _ in range(5):
        log_in(client, username, "wrong")
    assert log_in(client, username).status_code == 429

    client.force_login(factories.platform_staff())
    attempts = client.get("/admin/axes/accessattempt/")
    assert attempts.status_code == 200
    assert username in attempts.text
    pks = re.findall(r'name="_selected_action" value="(\d+)"', attempts.text)
    assert pks
    confirmed = client.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": pks, "post": "yes"},
    )
    assert confirmed.status_code == 302
    client.logout()

    assert log_in(client, username).status_code == 302
    assert logged_in(client)


def test_platform_staff_unlock_a_user_with_the_command(client, shop):
    username = shop.owner.username
    for _ in range(5):
        log_in(client, username, "wrong")
    assert log_in(client, username).status_code == 429

    call_command("axes_reset_username", username)

    assert log_in(client, username).status_code == 302


def test_merchant_staff_see_neither_lockout_records_nor_anyone_s_devices(client, shop):
    for _ in range(2):
        log_in(client, "someone@else.test", "wrong")
    client.force_login(shop.owner)
    index = client.get("/admin/")
    assert index.status_code == 200
    for hidden in ("Access attempts", "Access logs", "TOTP devices", "Static devices", "/admin/axes/"):
        assert hidden not in index.text
    for url in (
        "/admin/axes/accessattempt/",
        "/admin/axes/accesslog/",
        "/admin/otp_totp/totpdevice/",
        "/admin/otp_static/staticdevice/",
    ):
        assert client.get(url).status_code == 403, url


# --- two-factor -------------------------------------------------------------


def test_a_member_switches_on_two_factor_and_then_needs_a_code(client, shop):
    username = shop.owner.username
    assert log_in(client, username).status_code == 302
    secret, _ = set_up_two_factor(client)
    assert "Two-factor authentication is <strong>on</strong>" in client.get("/admin/two-factor/").text
    client.logout()

    without = log_in(client, username)
    assert without.status_code == 200
    assert LOGIN_REFUSED in htmllib.unescape(without.text)
    assert not logged_in(client)

    wrong = log_in(client, username, code="000000" if app_code(secret) != "000000" else "111111")
    assert LOGIN_REFUSED in htmllib.unescape(wrong.text)
    assert not logged_in(client)
    # django-otp's throttle: right after a wrong code even the right one is refused, for a second.
    throttled = log_in(client, username, code=app_code(secret, steps_ahead=1))
    assert LOGIN_REFUSED in htmllib.unescape(throttled.text)
    assert not logged_in(client)
    time.sleep(1.1)

    # A wrong password with a right code is still a wrong password.
    assert log_in(client, username, "wrong", code=app_code(secret, steps_ahead=1)).status_code == 200
    assert not logged_in(client)

    assert log_in(client, username, code=app_code(secret, steps_ahead=1)).status_code == 302
    assert logged_in(client)


def test_wrong_codes_count_toward_the_lockout(client, shop):
    username = shop.owner.username
    log_in(client, username)
    set_up_two_factor(client)
    client.logout()
    for _ in range(5):
        log_in(client, username, code="abc")  # right password, wrong code
    locked = log_in(client, username, code="also-wrong")
    assert locked.status_code == 429
    assert LOCKED in locked.text


def test_a_backup_code_logs_in_once(client, shop):
    username = shop.owner.username
    log_in(client, username)
    _, codes = set_up_two_factor(client)
    client.logout()

    assert log_in(client, username, code=codes[0]).status_code == 302
    assert logged_in(client)
    assert "Backup codes left: <strong>9</strong>" in client.get("/admin/two-factor/").text
    client.logout()

    reused = log_in(client, username, code=codes[0])
    assert LOGIN_REFUSED in htmllib.unescape(reused.text)
    assert not logged_in(client)
    time.sleep(1.1)  # django-otp's throttle after a wrong code
    assert log_in(client, username, code=codes[1].upper()).status_code == 302


def test_a_member_switches_two_factor_off_with_a_code(client, shop):
    username = shop.owner.username
    log_in(client, username)
    _, codes = set_up_two_factor(client)
    refused = client.post("/admin/two-factor/", {"action": "remove", "token": "123"}, follow=True)
    assert "That code is not right" in refused.text
    off = client.post("/admin/two-factor/", {"action": "remove", "token": codes[3]}, follow=True)
    assert "Two-factor authentication is off" in off.text
    client.logout()
    assert log_in(client, username).status_code == 302


def test_platform_staff_without_two_factor_can_only_set_it_up_when_required(client, settings, shop):
    settings.KASSA_REQUIRE_2FA_PLATFORM = True
    root = factories.platform_staff()
    assert log_in(client, root.username).status_code == 302

    for page in ("/admin/", "/admin/merchants/merchant/", "/admin/billing/product/", "/admin/axes/accessattempt/"):
        response = client.get(page)
        assert response.status_code == 302, page
        assert response["Location"] == "/admin/two-factor/"
    setup = client.get("/admin/two-factor/")
    assert "Your account must use two-factor authentication" in setup.text

    secret, _ = set_up_two_factor(client)
    assert client.get("/admin/merchants/merchant/").status_code == 200
    assert "Alpha" in client.get("/admin/merchants/merchant/").text
    client.logout()

    # From now on the code is needed, and it cannot be switched off.
    assert log_in(client, root.username).status_code == 200
    assert log_in(client, root.username, code=app_code(secret, steps_ahead=1)).status_code == 302
    assert client.get("/admin/merchants/merchant/").status_code == 200
    assert "cannot be switched off" in client.get("/admin/two-factor/").text


def test_platform_staff_session_without_a_code_is_sent_to_log_in_again(client, settings, shop):
    settings.KASSA_REQUIRE_2FA_PLATFORM = True
    root = factories.platform_staff()
    log_in(client, root.username)
    set_up_two_factor(client)
    client.logout()
    # A session made without the code (e.g. from before the requirement): logged out, asked for the code.
    client.force_login(root)
    response = client.get("/admin/merchants/merchant/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert not logged_in(client)


def _merchant_form(merchant, **changes):
    data = {
        "name": merchant.name,
        "support_email": merchant.support_email,
        "default_currency": merchant.default_currency,
    }
    data.update(changes)
    return data


def test_owner_requires_two_factor_and_members_must_set_it_up(client, shop):
    merchant = shop.merchant
    viewer = factories.staff(merchant, Membership.Role.VIEWER)
    client.force_login(shop.owner)
    page = client.get(f"/admin/merchants/merchant/{merchant.pk}/change/")
    assert 'name="require_two_factor"' in page.text
    saved = client.post(
        f"/admin/merchants/merchant/{merchant.pk}/change/", _merchant_form(merchant, require_two_factor="on")
    )
    assert saved.status_code == 302
    assert Merchant.objects.get(pk=merchant.pk).require_two_factor

    client.logout()
    assert log_in(client, viewer.username).status_code == 302
    for page in ("/admin/", "/admin/billing/product/", "/admin/merchants/apikey/"):
        response = client.get(page)
        assert response.status_code == 302, page
        assert response["Location"] == "/admin/two-factor/"

    set_up_two_factor(client)
    products = client.get("/admin/billing/product/")
    assert products.status_code == 200
    assert "Your role: Viewer" in products.text


def test_a_member_without_a_verified_session_sees_nothing_of_a_merchant_that_requires_two_factor(client, shop):
    merchant = shop.merchant
    merchant.require_two_factor = True
    merchant.save()
    member = factories.staff(merchant, Membership.Role.ADMIN)
    log_in(client, member.username)
    set_up_two_factor(client)
    client.logout()

    client.force_login(member)  # no code shown in this session
    response = client.get("/admin/merchants/apikey/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert not logged_in(client)


def test_only_an_owner_changes_the_two_factor_requirement(client, shop):
    merchant = shop.merchant
    admin_member = factories.staff(merchant, Membership.Role.ADMIN)
    client.force_login(admin_member)
    page = client.get(f"/admin/merchants/merchant/{merchant.pk}/change/")
    assert page.status_code == 200
    assert 'name="require_two_factor"' not in page.text  # shown, not editable
    client.post(f"/admin/merchants/merchant/{merchant.pk}/change/", _merchant_form(merchant, require_two_factor="on"))
    assert not Merchant.objects.get(pk=merchant.pk).require_two_factor


def test_demo_logins_work_without_a_code_when_two_factor_is_not_required(client, shop, settings):
    # `make run` (DEBUG on) leaves KASSA_REQUIRE_2FA_PLATFORM off: the demo's admin and owner log in with a password.
    assert settings.DEBUG is False or settings.KASSA_REQUIRE_2FA_PLATFORM is False
    root = factories.platform_staff()
    assert log_in(client, root.username).status_code == 302
    assert client.get("/admin/merchants/merchant/").status_code == 200
    client.logout()
    assert log_in(client, shop.owner.username).status_code == 302
    assert client.get("/admin/billing/product/").status_code == 200


def test_lockout_records_keep_neither_passwords_nor_codes(client, shop):
    log_in(client, shop.owner.username, "hunter2-wrong", code="424242")
    client.force_login(factories.platform_staff())
    attempts = client.get("/admin/axes/accessattempt/")
    pk = re.search(r'name="_selected_action" value="(\d+)"', attempts.text).group(1)
    record = client.get(f"/admin/axes/accessattempt/{pk}/change/")
    assert record.status_code == 200
    assert "otp_token=********************" in record.text
    assert "hunter2-wrong" not in record.text
    assert "424242" not in record.text


def test_platform_staff_can_remove_a_device_but_never_read_its_secret_or_codes(client, shop):
    """The lost-phone path deletes devices; nobody, platform staff included, can copy someone's second factor."""
    from django_otp.plugins.otp_static.models import StaticDevice
    from django_otp.plugins.otp_totp.models import TOTPDevice

    assert log_in(client, shop.owner.username).status_code == 302
    secret, codes = set_up_two_factor(client)
    client.logout()
    client.force_login(factories.platform_staff())
    device = TOTPDevice.objects.get(user=shop.owner)
    backup = StaticDevice.objects.get(user=shop.owner)
    page = client.get(f"/admin/otp_totp/totpdevice/{device.pk}/change/")
    assert page.status_code == 200
    assert device.key not in page.text
    assert secret not in page.text
    assert client.get(f"/admin/otp_totp/totpdevice/{device.pk}/config/").status_code in (403, 404)
    backup_page = client.get(f"/admin/otp_static/staticdevice/{backup.pk}/change/")
    assert backup_page.status_code == 200
    assert not any(code in backup_page.text for code in codes)
    client.post(f"/admin/otp_totp/totpdevice/{device.pk}/delete/", {"post": "yes"})
    client.post(f"/admin/otp_static/staticdevice/{backup.pk}/delete/", {"post": "yes"})
    assert not TOTPDevice.objects.filter(user=shop.owner).exists()
    assert not StaticDevice.objects.filter(user=shop.owner).exists()


def test_a_refusal_never_tells_that_the_password_was_right(client, shop):
    """A right password without its code gets the very answer a wrong password gets."""
    username = shop.owner.username
    assert log_in(client, username).status_code == 302
    set_up_two_factor(client)
    client.logout()
    right_password = log_in(client, username, ip="198.51.100.7")
    wrong_password = log_in(client, username, password="not-the-password", ip="198.51.100.8")
    errors = [re.findall(r'class="errornote">\s*(.*?)\s*<', r.text, re.S) for r in (right_password, wrong_password)]
    assert errors[0] == errors[1]
    assert LOGIN_REFUSED in htmllib.unescape(errors[0][0])
