"""Make the README tour's screenshots (docs/*.png) by walking a newcomer's flow in a real browser.

Run: ``.venv/bin/python docs/screenshots.py`` (or ``make screenshots``).

Everything it needs it starts itself and stops again, also on error: a
throwaway var directory (SQLite database, demo logins), localstripe, and
``manage.py runserver`` on a free port with ``DEBUG=true``. Then Debian's
Chromium, driven by Playwright, logs in to the dashboard as the demo
merchant's owner, makes a payment link from an amount, opens it as a payer,
pays with the test card 4242 4242 4242 4242 in localstripe's Stripe.js mock,
goes back to the dashboard, opens the payment and refunds part of it. Each
step waits for the page's real state (a URL, an element, a message), not for
a fixed time.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import ExitStack
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
sys.path.insert(0, str(ROOT))

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 20_000

LINK_AMOUNT = "25.00"
LINK_CURRENCY = "eur"
LINK_DESCRIPTION = "Pottery class"
REFUND_AMOUNT = "10.00"
TEST_CARD = "4242424242424242"


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def manage(env: dict, *args: str) -> str:
    """``manage.py <args>`` to the end; its output, or an error carrying it."""
    result = subprocess.run(  # noqa: S603 - our own interpreter and manage.py, no shell
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def wait_until_up(url: str, process: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"runserver exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - http://127.0.0.1 only
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"runserver did not answer at {url} in time:\n{log.read_text()}")
        time.sleep(0.2)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_kassa(stack: ExitStack) -> tuple[str, dict]:
    """A throwaway Kassa (SQLite, localstripe, runserver): its base URL and the demo's logins and keys."""
    from kassa.localstripe_harness import LocalStripe  # noqa: PLC0415 - imported once the script has set up its paths

    var_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kassa-screenshots-")))
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env |= {"DEBUG": "true", "KASSA_VAR_DIR": str(var_dir), "PYTHONUNBUFFERED": "1"}

    localstripe = LocalStripe().start()
    stack.callback(localstripe.stop)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env |= {"STRIPE_API_BASE": localstripe.url, "STRIPE_JS_URL": localstripe.js_url, "KASSA_PUBLIC_URL": base}

    manage(env, "migrate", "--noinput")
    manage(env, "demo_setup")
    demo = json.loads((var_dir / "demo.json").read_text())

    log = var_dir / "runserver.log"
    log_file = stack.enter_context(log.open("w"))
    server = subprocess.Popen(  # noqa: S603 - our own interpreter and manage.py, no shell
        [sys.executable, str(ROOT / "manage.py"), "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    stack.callback(stop, server)
    wait_until_up(f"{base}/healthz", server, log)
    return base, demo


class Shots:
    """Writes docs/<name>.png and remembers what it wrote."""

    def __init__(self) -> None:
        self.written: list[Path] = []

    def take(self, page, name: str, **options) -> None:
        path = DOCS / f"{name}.png"
        page.screenshot(path=str(path), animations="disabled", caret="hide", **options)
        self.written.append(path)
        say(f"  {path.relative_to(ROOT)}")


def unfocus(page) -> None:
    """No text cursor or focus ring in the picture."""
    page.evaluate("document.activeElement && document.activeElement.blur()")


def context(browser, **options):
    ctx = browser.new_context(locale="en-US", **options)
    ctx.set_default_timeout(TIMEOUT_MS)
    return ctx


def log_in(dashboard, base: str, demo: dict, shots: Shots) -> None:
    """The demo merchant's owner logs in: the dashboard's home."""
    dashboard.goto(f"{base}/admin/login/?next=/admin/")
    dashboard.fill("#id_username", demo["owner"]["username"])
    dashboard.fill("#id_password", demo["owner"]["password"])
    dashboard.click("#login-form input[type=submit]")
    dashboard.wait_for_url(f"{base}/admin/")
    expect(dashboard.locator("#kassa-test-banner")).to_be_visible()
    shots.take(dashboard, "01-dashboard")


def make_link(dashboard, base: str, shots: Shots) -> str:
    """A payment link from a plain amount; its URL."""
    dashboard.goto(f"{base}/admin/billing/paymentlink/add/")
    dashboard.fill("#id_amount", LINK_AMOUNT)
    dashboard.select_option("#id_amount_currency", LINK_CURRENCY)
    dashboard.fill("#id_amount_description", LINK_DESCRIPTION)
    amount_box = dashboard.locator("fieldset", has=dashboard.locator("#id_amount"))
    amount_box.evaluate("node => node.scrollIntoView({block: 'center'})")
    unfocus(dashboard)
    shots.take(dashboard, "02-new-link")
    dashboard.click("input[name=_save]")
    dashboard.wait_for_url(re.compile(r"/admin/billing/paymentlink/\d+/change/$"))
    expect(dashboard.locator(".messagelist")).to_contain_text("created")
    expect(dashboard.locator("svg.kassa-qr")).to_be_visible()
    shots.take(dashboard, "03-link")
    return dashboard.locator("#kassa-link-url").inner_text().strip()


def pay_link(pay, phone, link_url: str, shots: Shots) -> str:
    """A payer opens the link (a fresh checkout session), pays with the test card; the PaymentIntent's id."""
    pay.goto(link_url)
    pay.wait_for_url(re.compile(r"/pay/session/cs_test_\w+$"))
    session_url = pay.url
    expect(pay.locator("#line-items")).to_contain_text(LINK_DESCRIPTION)
    pay.fill("#email", "ada@example.com")
    pay.fill("#name", "Ada Lovelace")
    # localstripe's Stripe.js mock: the card element is five plain inputs named by their placeholders.
    card = pay.locator("#card-element")
    for field, value in (
        ("number", TEST_CARD),
        ("exp_month", "12"),
        ("exp_year", "34"),
        ("cvc", "123"),
        ("postal_code", "75001"),
    ):
        card.locator(f'input[placeholder="{field}"]').fill(value)
    unfocus(pay)
    shots.take(pay, "04-pay-page")

    # The same session on a phone (its URL is the payer's credential: no second session is made).
    small = phone.new_page()
    small.goto(session_url)
    expect(small.locator("#pay-button")).to_be_visible()
    expect(small.locator('#card-element input[placeholder="number"]')).to_be_visible()
    shots.take(small, "04b-pay-page-phone")
    small.close()

    # The page goes to the success page once the server holds the session as complete.
    pay.click("#pay-button")
    pay.wait_for_url(re.compile(r"/pay/session/cs_test_\w+/complete$"))
    expect(pay.locator("#page-title")).to_have_text("Payment successful")
    intent_id = re.search(r"pi_\w+", pay.locator("#reference").inner_text()).group(0)
    shots.take(pay, "05-paid")
    return intent_id


def see_and_refund(dashboard, base: str, intent_id: str, shots: Shots) -> None:
    """The payment in the dashboard's list, its page with the timeline, then a partial refund."""
    dashboard.goto(f"{base}/admin/billing/paymentintent/")
    # The list's columns need the room of the navigation sidebar: fold it (Django remembers that choice).
    sidebar = dashboard.locator("#nav-sidebar")
    if sidebar.get_attribute("aria-expanded") == "true":
        dashboard.click("#toggle-nav-sidebar")
    expect(sidebar).to_have_attribute("aria-expanded", "false")
    row = dashboard.locator("#result_list tbody tr", has_text=intent_id)
    expect(row).to_contain_text(re.compile("succeeded", re.IGNORECASE))
    shots.take(dashboard, "06-payments")

    row.get_by_role("link", name=intent_id).click()
    dashboard.wait_for_url(re.compile(r"/admin/billing/paymentintent/\d+/change/$"))
    expect(dashboard.locator("#kassa-timeline")).to_contain_text("Succeeded")
    shots.take(dashboard, "07-payment", full_page=True)

    dashboard.click("#kassa-refund-link")
    dashboard.wait_for_url(re.compile(r"/refund/$"))
    dashboard.fill("#id_amount", REFUND_AMOUNT)
    dashboard.select_option("#id_reason", "requested_by_customer")
    dashboard.click("#kassa-refund-form input[type=submit]")
    dashboard.wait_for_url(re.compile(r"/admin/billing/paymentintent/\d+/change/$"))
    expect(dashboard.locator(".messagelist")).to_contain_text("succeeded")
    expect(dashboard.locator("#kassa-refunds")).to_contain_text(REFUND_AMOUNT)
    shots.take(dashboard, "08-refund", full_page=True)


def tour(browser, base: str, demo: dict, shots: Shots) -> None:
    expect.set_options(timeout=TIMEOUT_MS)
    staff = context(browser, viewport=DESKTOP)
    payer = context(browser, viewport=DESKTOP)
    phone = context(browser, viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    try:
        dashboard = staff.new_page()
        log_in(dashboard, base, demo, shots)
        link_url = make_link(dashboard, base, shots)
        intent_id = pay_link(payer.new_page(), phone, link_url, shots)
        see_and_refund(dashboard, base, intent_id, shots)
    finally:
        phone.close()
        payer.close()
        staff.close()


def main() -> int:
    if not Path(CHROMIUM).exists():
        say(f"{CHROMIUM} is missing: install Debian's chromium package.")
        return 1
    os.chdir(ROOT)
    shots = Shots()
    with ExitStack() as stack:
        say("Starting a throwaway Kassa (SQLite, localstripe, runserver)…")
        base, demo = start_kassa(stack)
        say(f"Kassa at {base}; taking screenshots:")
        playwright = stack.enter_context(sync_playwright())
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        stack.callback(browser.close)
        tour(browser, base, demo, shots)
    say(f"Wrote {len(shots.written)} files:")
    for path in shots.written:
        say(f"  {path.relative_to(ROOT)} ({path.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
