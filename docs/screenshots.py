"""Make the README tour's screenshots (docs/*.png) by walking a newcomer's flow in a real browser.

Run: ``.venv/bin/python docs/screenshots.py`` (or ``make screenshots``).

Everything it needs it starts itself and stops again, also on error: a
throwaway ``make run`` — a var directory (SQLite database, demo logins),
localstripe, ``manage.py demo_setup``, ``runserver`` on a free port with
``DEBUG=true`` and a Celery worker, which pays the demo shop's link as under
``make run`` — and a webhook receiver answering 200. Then Debian's Chromium,
driven by Playwright, walks the tour:

- the login page; the demo owner logs in, makes a payment link from an amount
  that saves the payer's card;
- a payer opens it (desktop, and the same session on a phone), is declined
  with 4000 0000 0000 0341 (a failed charge), then pays with 4242 4242 4242 4242;
- the same payer on a phone switches the pay page to French and is declined
  with 4000 0000 0000 0002 (a failed payment);
- the owner opens the payment (its decline and attempts), refunds part of it,
  sees the payments list, the payer's customer page and the home page;
- adds a price from a product in major units, fills a restricted key's
  permission grid, adds a webhook endpoint and watches a test delivery arrive;
- the API docs with an operation opened.

Each step waits for the page's real state (a URL, an element, a message), not
for a fixed time.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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
PAYER_EMAIL = "ada@example.com"
PAYER_NAME = "Ada Lovelace"
REFUND_AMOUNT = "10.00"
TEST_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000002"  # refused when it is given: no charge is attempted
CHARGE_DECLINED_CARD = "4000000000000341"  # taken, then its charge is declined: a failed attempt
PRICE_PRODUCT = "Ceramic teapot"
PRICE_AMOUNT = "18"


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


class Receiver(ThreadingHTTPServer):
    """The merchant's own server, receiving Kassa's webhooks: answers 200 to every POST."""

    daemon_threads = True


class _ReceiverHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def start_receiver(stack: ExitStack) -> str:
    """A webhook receiver on a free port; its URL (test mode lets a development Kassa call loopback)."""
    server = Receiver(("127.0.0.1", 0), _ReceiverHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stack.callback(server.server_close)
    stack.callback(server.shutdown)
    return f"http://127.0.0.1:{server.server_address[1]}/hooks/kassa"


def start_process(
    stack: ExitStack, name: str, args: list[str], env: dict, var_dir: Path
) -> tuple[subprocess.Popen, Path]:
    """One of ``make run``'s processes (Procfile), its output in the var directory, stopped on exit."""
    log = var_dir / f"{name}.log"
    log_file = stack.enter_context(log.open("w"))
    process = subprocess.Popen(  # noqa: S603 - our own interpreter, manage.py and celery; no shell
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    stack.callback(stop, process)
    return process, log


def api_get(base: str, key: str, path: str) -> dict:
    request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1 only
        f"{base}{path}", headers={"Authorization": f"Bearer {key}"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - http://127.0.0.1 only
        return json.loads(response.read())


def wait_for_demo_payments(base: str, demo: dict, expected: int, worker: subprocess.Popen, log: Path) -> None:
    """The worker pays the demo's link (billing.tasks.demo_payments_make): wait until it has, by the API."""
    deadline = time.monotonic() + 120
    while True:
        if worker.poll() is not None:
            raise RuntimeError(f"the Celery worker exited with {worker.returncode}:\n{log.read_text()}")
        intents = api_get(base, demo["secret_key"], "/v1/payment_intents?limit=100")["data"]
        if sum(intent["status"] == "succeeded" for intent in intents) >= expected:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the demo's payments were not made in time:\n{log.read_text()}")
        time.sleep(0.3)


def start_kassa(stack: ExitStack) -> tuple[str, dict]:
    """A throwaway ``make run`` (SQLite, localstripe, runserver, a Celery worker): its base URL and the demo's logins.

    Returns once the demo's test payments are made (by the worker, as under ``make run``).
    """
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
    count = "from billing.demo import DEMO_PAYMENTS; print(len(DEMO_PAYMENTS))"
    demo_payments = int(manage(env, "shell", "--verbosity", "0", "-c", count).split()[-1])
    # localstripe sends the demo merchant's Stripe events to Kassa, as the Procfile's launcher does.
    for name, hook in json.loads((var_dir / "localstripe-webhooks.json").read_text()).items():
        localstripe.register_webhook(name, hook["url"], hook["secret"], hook.get("events"))

    server, log = start_process(
        stack, "runserver", [str(ROOT / "manage.py"), "runserver", f"127.0.0.1:{port}", "--noreload"], env, var_dir
    )
    wait_until_up(f"{base}/healthz", server, log)
    worker, worker_log = start_process(
        stack,
        "worker",
        [
            "-m",
            "celery",
            "-A",
            "kassa",
            "worker",
            "--pool=solo",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
        ],
        env,
        var_dir,
    )
    wait_for_demo_payments(base, demo, demo_payments, worker, worker_log)
    return base, demo | {"payments": demo_payments}


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
    """The login page (with its two-factor code box), then the demo merchant's owner logs in."""
    dashboard.goto(f"{base}/admin/login/?next=/admin/")
    expect(dashboard.locator("#id_otp_token")).to_be_visible()
    shots.take(dashboard, "00-login")
    dashboard.fill("#id_username", demo["owner"]["username"])
    dashboard.fill("#id_password", demo["owner"]["password"])
    dashboard.click("#login-form input[type=submit]")
    dashboard.wait_for_url(f"{base}/admin/")
    expect(dashboard.locator("#kassa-test-banner")).to_be_visible()


def make_link(dashboard, base: str, shots: Shots) -> str:
    """A payment link from a plain amount that saves the payer's card for later charges; its URL."""
    dashboard.goto(f"{base}/admin/billing/paymentlink/add/")
    dashboard.fill("#id_amount", LINK_AMOUNT)
    dashboard.select_option("#id_amount_currency", LINK_CURRENCY)
    dashboard.fill("#id_amount_description", LINK_DESCRIPTION)
    dashboard.check("#id_save_card")  # so the payer's customer page shows their card
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


def fill_card(page, number: str) -> None:
    """localstripe's Stripe.js mock: the card element is five plain inputs named by their placeholders."""
    card = page.locator("#card-element")
    for field, value in (
        ("number", number),
        ("exp_month", "12"),
        ("exp_year", "34"),
        ("cvc", "123"),
        ("postal_code", "75001"),
    ):
        card.locator(f'input[placeholder="{field}"]').fill(value)


def open_link(page, link_url: str) -> str:
    """The payer opens the link: a fresh checkout session; its URL."""
    page.goto(link_url)
    page.wait_for_url(re.compile(r"/pay/session/cs_test_\w+$"))
    expect(page.locator("#line-items")).to_contain_text(LINK_DESCRIPTION)
    return page.url


def pay_link(pay, phone, link_url: str, shots: Shots) -> str:
    """A payer opens the link, is declined with one card, pays with another; the PaymentIntent's id."""
    session_url = open_link(pay, link_url)
    pay.fill("#email", PAYER_EMAIL)
    pay.fill("#name", PAYER_NAME)
    fill_card(pay, TEST_CARD)
    unfocus(pay)
    shots.take(pay, "04-pay-page")

    # The same session on a phone (its URL is the payer's credential: no second session is made).
    small = phone.new_page()
    small.goto(session_url)
    expect(small.locator("#pay-button")).to_be_visible()
    expect(small.locator('#card-element input[placeholder="number"]')).to_be_visible()
    shots.take(small, "04b-pay-page-phone")
    small.close()

    # First a card whose charge is declined: a message, and the payer stays on the page to try another.
    fill_card(pay, CHARGE_DECLINED_CARD)
    pay.click("#pay-button")
    message = pay.locator("#payment-message")
    expect(message).to_contain_text("declined")
    expect(pay.locator("#pay-button")).to_be_enabled()
    message.evaluate("node => node.scrollIntoView({block: 'center'})")
    unfocus(pay)
    shots.take(pay, "04c-declined")

    # Then the test card that succeeds. The page goes to the success page once the server holds the
    # session as complete.
    fill_card(pay, TEST_CARD)
    pay.click("#pay-button")
    pay.wait_for_url(re.compile(r"/pay/session/cs_test_\w+/complete$"))
    expect(pay.locator("#page-title")).to_have_text("Payment successful")
    intent_id = re.search(r"pi_\w+", pay.locator("#reference").inner_text()).group(0)
    shots.take(pay, "05-paid")
    return intent_id


def pay_in_french_on_a_phone(phone, link_url: str, shots: Shots) -> None:
    """The same payer on a phone switches the page to French, and is declined (a failed payment)."""
    page = phone.new_page()
    open_link(page, link_url)
    expect(page.locator("html")).to_have_attribute("lang", "en")  # the phone's browser speaks English
    page.click("#language-fr")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.locator("#language-switch [aria-current]")).to_have_text("Français")
    expect(page.locator("#pay-button")).to_have_text("Payer 25,00\xa0€")
    page.fill("#email", PAYER_EMAIL)
    page.fill("#name", PAYER_NAME)
    fill_card(page, DECLINED_CARD)
    page.click("#pay-button")
    expect(page.locator("#payment-message")).to_have_text("Votre carte a été refusée. Essayez une autre carte.")
    unfocus(page)
    shots.take(page, "04d-pay-page-french", full_page=True)
    page.close()


def fold_sidebar(dashboard) -> None:
    """Lists need the room of the navigation sidebar: fold it (Django remembers that choice)."""
    sidebar = dashboard.locator("#nav-sidebar")
    if sidebar.get_attribute("aria-expanded") == "true":
        dashboard.click("#toggle-nav-sidebar")
    expect(sidebar).to_have_attribute("aria-expanded", "false")


def see_and_refund(dashboard, base: str, intent_id: str, shots: Shots) -> None:
    """The payment's page (the decline, the attempts), a partial refund, then the payments list."""
    dashboard.goto(f"{base}/admin/billing/paymentintent/")
    fold_sidebar(dashboard)
    row = dashboard.locator("#result_list tbody tr", has_text=intent_id)
    expect(row.locator(".kassa-status")).to_have_text("Succeeded")
    row.locator("a").first.click()
    dashboard.wait_for_url(re.compile(r"/admin/billing/paymentintent/\d+/change/$"))
    timeline = dashboard.locator("#kassa-timeline")
    expect(timeline).to_contain_text("Your card was declined.")
    expect(timeline).to_contain_text("Succeeded")
    attempts = dashboard.locator("#kassa-attempts tbody tr")
    expect(attempts).to_have_count(2)
    expect(attempts.first).to_contain_text("card_declined")
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

    # The list in Stripe's words: the demo's payments, the one refunded in part, the two declined
    # (the demo's declined payer, and the payer in French).
    dashboard.goto(f"{base}/admin/billing/paymentintent/")
    statuses = dashboard.locator("#result_list .kassa-status")
    expect(statuses.filter(has_text="Partially refunded")).to_have_count(1)
    expect(statuses.filter(has_text="Failed")).to_have_count(2)
    expect(dashboard.locator("#kassa-export-csv")).to_be_visible()
    shots.take(dashboard, "06-payments")


def see_customer(dashboard, base: str, shots: Shots) -> None:
    """The payer is one customer, with their payments (the failed one too), refunds and cards."""
    dashboard.goto(f"{base}/admin/billing/customer/")
    dashboard.locator("#result_list tbody tr", has_text=PAYER_EMAIL).locator("a").first.click()
    dashboard.wait_for_url(re.compile(r"/admin/billing/customer/\d+/change/$"))
    payments = dashboard.locator("#kassa-customer-payments")
    expect(payments.locator("tbody tr")).to_have_count(2)
    expect(payments).to_contain_text("Failed")
    expect(payments).to_contain_text("Partially refunded")
    expect(dashboard.locator("#kassa-customer-cards")).to_contain_text("4242")
    shots.take(dashboard, "09-customer", full_page=True)


def see_home(dashboard, base: str, demo: dict, shots: Shots) -> None:
    """The home page: volume and its chart, recent and failed payments, refunds, the set-up checklist."""
    dashboard.goto(f"{base}/admin/")
    expect(dashboard.locator("#kassa-checklist")).to_be_visible()
    expect(dashboard.locator("#kassa-failed-count")).to_have_text("2")  # the demo's declined payer, and ours
    expect(dashboard.locator("#kassa-failed-payments")).to_contain_text("Your card was declined.")
    expect(dashboard.locator("#kassa-recent-refunds")).to_contain_text(REFUND_AMOUNT)
    # The demo's payments and its declined payer, and our payer's two (paid, declined), newest first.
    expect(dashboard.locator("#kassa-recent-payments tbody tr")).to_have_count(min(demo["payments"] + 3, 6))
    chart = dashboard.locator("#kassa-volume-chart")
    expect(chart).to_be_visible()
    dashboard.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=chart.element_handle())
    shots.take(dashboard, "01-dashboard", full_page=True)


def add_price(dashboard, base: str, shots: Shots) -> None:
    """From a product's page, Add price: the amount typed in major units, the currency from a list."""
    dashboard.goto(f"{base}/admin/billing/product/")
    dashboard.locator("#result_list tbody tr", has_text=PRICE_PRODUCT).locator("a").first.click()
    dashboard.wait_for_url(re.compile(r"/admin/billing/product/\d+/change/$"))
    dashboard.click("#kassa-add-price")
    dashboard.wait_for_url(re.compile(r"/admin/billing/price/add/\?product=\d+$"))
    expect(dashboard.locator("#id_product")).to_contain_text(PRICE_PRODUCT)
    dashboard.fill("#id_unit_amount", PRICE_AMOUNT)
    dashboard.select_option("#id_unit_amount_currency", "eur")  # the demo's prices are in euros
    unfocus(dashboard)
    shots.take(dashboard, "10-new-price")
    dashboard.click("input[name=_save]")
    expect(dashboard.locator(".messagelist")).to_contain_text("added")


def add_restricted_key(dashboard, base: str, shots: Shots) -> None:
    """API keys → Add, a restricted key: what it may do, resource by resource."""
    dashboard.goto(f"{base}/admin/merchants/apikey/add/")
    dashboard.select_option("#id_kind", "restricted")
    grid = dashboard.locator("[data-kassa-permission-grid]")
    expect(grid).to_be_visible()
    dashboard.fill("#id_name", "Catalogue sync")
    dashboard.get_by_label("Products: Write").check()
    dashboard.get_by_label("Prices: Write").check()
    dashboard.get_by_label("Customers: Read").check()
    unfocus(dashboard)
    shots.take(dashboard, "11-restricted-key")


def add_webhook_endpoint(dashboard, base: str, receiver: str, shots: Shots) -> None:
    """Developers → Webhook endpoints → Add: event types by group; then the endpoint's page, its deliveries on top."""
    dashboard.goto(f"{base}/admin/webhooks/webhookendpoint/add/")
    dashboard.fill("#id_url", receiver)
    dashboard.fill("#id_description", "Order system")
    for group in ("payment_intent", "refund"):
        dashboard.locator(f'[data-kassa-group="{group}"] [data-kassa-select-group]').click()
    expect(dashboard.locator('input[value="payment_intent.payment_failed"]')).to_be_checked()
    dashboard.click("input[name=_save]")
    expect(dashboard.locator(".kassa-secret")).to_contain_text("whsec_")
    dashboard.click("text=I have copied it")
    dashboard.wait_for_url(re.compile(r"/admin/webhooks/webhookendpoint/\d+/change/$"))
    expect(dashboard.locator("#kassa-recent-deliveries")).to_contain_text("No deliveries yet")
    # A test event: its delivery appears at the top as pending, then delivered without a reload.
    dashboard.click("#kassa-send-test button")
    row = dashboard.locator("#kassa-deliveries tbody tr").first
    expect(row).to_contain_text("webhook_endpoint.test")
    expect(row.locator(".kassa-status")).to_have_text("Delivered")
    expect(row).to_contain_text("HTTP 200")
    unfocus(dashboard)
    shots.take(dashboard, "12-webhook-endpoint", full_page=True)


def api_docs(page, base: str, shots: Shots) -> None:
    """The API docs: an operation opened, with its summary, parameters and curl / stripe-python samples."""
    # Opened by clicks, not by a deep link (Swagger UI scrolls to a deep link with an animation).
    page.goto(f"{base}/v1/docs/")
    page.click("#operations-tag-Payment_Intents")
    operation = page.locator("#operations-Payment_Intents-payment_intents_create")
    expect(operation.locator(".opblock-summary-description")).to_have_text("Create a PaymentIntent")
    operation.locator(".opblock-summary-control").click()
    expect(operation.locator(".opblock-description-wrapper").first).to_contain_text("stripe-python")
    page.wait_for_function(
        "el => { el.scrollIntoView({block: 'start'}); return Math.abs(el.getBoundingClientRect().top) < 1; }",
        arg=operation.element_handle(),
    )
    unfocus(page)
    shots.take(page, "13-api-docs")


def tour(browser, base: str, demo: dict, receiver: str, shots: Shots) -> None:
    expect.set_options(timeout=TIMEOUT_MS)
    staff = context(browser, viewport=DESKTOP)
    payer = context(browser, viewport=DESKTOP)
    phone = context(browser, viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    try:
        dashboard = staff.new_page()
        log_in(dashboard, base, demo, shots)
        link_url = make_link(dashboard, base, shots)
        intent_id = pay_link(payer.new_page(), phone, link_url, shots)
        pay_in_french_on_a_phone(phone, link_url, shots)
        see_and_refund(dashboard, base, intent_id, shots)
        see_customer(dashboard, base, shots)
        see_home(dashboard, base, demo, shots)
        add_price(dashboard, base, shots)
        add_restricted_key(dashboard, base, shots)
        add_webhook_endpoint(dashboard, base, receiver, shots)
        api_docs(dashboard, base, shots)
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
        say("Starting a throwaway Kassa (SQLite, localstripe, runserver, a Celery worker)…")
        base, demo = start_kassa(stack)
        receiver = start_receiver(stack)
        say(f"Kassa at {base}; taking screenshots:")
        playwright = stack.enter_context(sync_playwright())
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        stack.callback(browser.close)
        tour(browser, base, demo, receiver, shots)
    say(f"Wrote {len(shots.written)} files:")
    for path in shots.written:
        say(f"  {path.relative_to(ROOT)} ({path.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
