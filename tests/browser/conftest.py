"""Real Chromium (Debian's package, never a downloaded one) driving the hosted pages on a live server.

One browser for all of them, a fresh context (cookies, locale) per test.
Without /usr/bin/chromium the tests are skipped locally and fail in CI
(``CI=true``), as DESIGN.md asks of every test that needs a missing server.
"""

import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="package")
def browser():
    """One Chromium for all the browser tests, closed when they are done.

    Package scope, not session: while Playwright's sync API is running it
    keeps an asyncio loop on the test thread, and Django's ORM refuses to run
    where a loop is (SynchronousOnlyOperation). The browser tests tell Django
    this process serves no async code; the tests after them get Django's
    check back.
    """
    if not Path(CHROMIUM).exists():
        reason = f"{CHROMIUM} is missing: install Debian's chromium package"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def kassa_url(live_server, settings, stripe_backend):
    """Kassa on a live server, its links pointing at itself, its pages loading localstripe's Stripe.js."""
    settings.KASSA_PUBLIC_URL = live_server.url
    return live_server.url


def _new_page(browser, **options):
    context = browser.new_context(**options)
    context.set_default_timeout(15_000)
    return context, context.new_page()


@pytest.fixture
def page(browser, kassa_url):
    context, page = _new_page(browser, locale="en-US")
    yield page
    context.close()


@pytest.fixture
def french_page(browser, kassa_url):
    context, page = _new_page(browser, locale="fr-FR")
    yield page
    context.close()


@pytest.fixture
def phone_page(browser, kassa_url):
    context, page = _new_page(browser, locale="en-GB", viewport={"width": 375, "height": 667}, is_mobile=True)
    yield page
    context.close()


class _MerchantSite(ThreadingHTTPServer):
    daemon_threads = True
    pages: dict[str, str]


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = self.server.pages.get(self.path.split("?")[0])
        if body is None:
            self.send_error(404)
            return
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def merchant_site():
    """A client app's site on another origin (127.0.0.1 on its own port; Kassa is on localhost).

    ``merchant_site.pages["/shop.html"] = html`` publishes a page; ``merchant_site.url`` is its origin.
    """
    server = _MerchantSite(("127.0.0.1", 0), _Handler)
    server.pages = {}
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
