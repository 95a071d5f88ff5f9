"""The dashboard's login form in Chromium: switching on two-factor, then logging in with a code."""

from playwright.sync_api import expect

from tests import factories
from tests.merchants.test_login_security import PASSWORD, app_code


def log_in(page, base, username, code=""):
    page.goto(f"{base}/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    if code:
        page.fill("#id_otp_token", code)
    page.click("#login-form input[type=submit]")


def test_a_member_switches_on_two_factor_and_logs_in_with_a_code(page, kassa_url):
    shop = factories.merchant("Alpha")
    username = shop.owner.username
    log_in(page, kassa_url, username)
    page.wait_for_url(f"{kassa_url}/admin/")

    page.click("#kassa-two-factor-link")
    expect(page.locator("#kassa-2fa-qr svg")).to_be_visible()
    secret = page.locator("#kassa-2fa-secret").inner_text().strip()
    page.fill("#kassa-confirm-token", app_code(secret))
    page.get_by_role("button", name="Switch on").click()
    expect(page.locator(".kassa-backup-code")).to_have_count(10)

    page.get_by_role("button", name="Log out").click()
    log_in(page, kassa_url, username)
    expect(page.locator(".errornote")).to_contain_text("your two-factor code if you have switched it on")

    log_in(page, kassa_url, username, code=app_code(secret, steps_ahead=1))
    page.wait_for_url(f"{kassa_url}/admin/")
    expect(page.locator("#kassa-test-banner")).to_be_visible()
