import pytest
import stripe
from django.db import connections
from django.utils import translation

from kassa import i18n_compile
from kassa.localstripe_harness import LocalStripe
from tests import factories


def pytest_configure(config):
    # The .mo files are built, not committed: `make test` builds them first; a bare `pytest` does it here.
    if i18n_compile.main([]) != 0:
        raise pytest.UsageError("A gettext catalog does not compile (see above): fix its .po.")


@pytest.fixture(autouse=True)
def _no_language_left_over():
    """Each test starts in the default language: a French page's request leaves French active on the thread
    (LocaleMiddleware activates, nothing deactivates), and a later test of a service would read French."""
    yield
    translation.deactivate()


@pytest.fixture(scope="session")
def localstripe():
    with LocalStripe() as server:
        yield server


@pytest.fixture
def stripe_backend(localstripe, settings):
    """An empty localstripe that Kassa's gateway talks to."""
    localstripe.reset()
    settings.STRIPE_API_BASE = localstripe.url
    settings.STRIPE_JS_URL = localstripe.js_url
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    return localstripe


class _LiveServerHandler:
    """What the live server's request threads do differently from Django's test server (see ``live_server``)."""

    disable_nagle_algorithm = True
    opened: list = []  # the database connections of request threads, closed at the end of the session

    def setup(self):
        super().setup()
        for connection in connections.all():
            # Not an in-memory SQLite database's: that one is the test's own, lent to the server.
            shared = connection.vendor == "sqlite" and connection.is_in_memory_db()
            if connection.connection is None and not shared:
                # This thread's own wrapper (connections are per thread): its copy of the settings, not the shared one.
                connection.settings_dict = {**connection.settings_dict, "CONN_MAX_AGE": None}
                self.opened.append(connection)


@pytest.fixture(scope="session")
def live_server(live_server):
    """pytest-django's live server, answering as production servers do: without Nagle's algorithm, and with one
    database connection per client connection rather than one per request.

    Django's test server writes a response's headers and its body in two sends; with Nagle's algorithm on,
    every request on a kept-alive connection (stripe-python's, schemathesis', Chromium's) then waits ~40 ms
    for the client's delayed ACK before the body leaves. And tests/settings.py's ``CONN_MAX_AGE = 0`` has each
    request open and close a database connection (PostgreSQL's ~10 ms on this machine, SQLite's test file's
    ~1.4 ms); a request thread keeps its own instead, until its client hangs up (Django's server then closes
    the thread's connections). Those of clients still connected at the end are closed here, before the test
    database is dropped. Nothing a test checks depends on either wait.
    """
    server = live_server.thread.httpd
    server.RequestHandlerClass = type("LiveServerHandler", (_LiveServerHandler, server.RequestHandlerClass), {})
    yield live_server
    for connection in _LiveServerHandler.opened:
        if connection.connection is not None:
            connection.connection.close()  # the driver's, from this thread: the request thread waits on its socket


@pytest.fixture
def kassa(live_server):
    """stripe-python, unmodified, pointed at Kassa: ``kassa(secret_key)`` gives a StripeClient."""

    def client(key: str, **options) -> stripe.StripeClient:
        options.setdefault("max_network_retries", 0)
        return stripe.StripeClient(key, base_addresses={"api": live_server.url}, **options)

    client.url = live_server.url
    return client


@pytest.fixture
def shop(db):
    return factories.merchant("Shop")


@pytest.fixture
def other_shop(db):
    return factories.merchant("Other")


def database_url_for_subprocess() -> str:
    """A DATABASE_URL pointing a child process (worker, server) at this test run's database."""
    from django.db import connection

    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def queue_purge() -> None:
    """Empty this run's Celery queue before a test starts a worker.

    Every committed change nudges the webhook dispatcher (webhooks/services/
    outbox.py), and most tests run no worker, so nudges about rows long rolled
    back pile up; a worker started later would first work through them all.
    """
    from kassa.celery import app

    app.control.purge()


@pytest.fixture
def card_token(stripe_backend):
    """What Stripe.js does in the payer's browser: turn a test card number into a token at the processor."""

    def make(number: str = "4242424242424242") -> str:
        client = stripe.StripeClient(
            "sk_test_browser", base_addresses={"api": stripe_backend.url}, max_network_retries=0
        )
        card = {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}
        return client.v1.tokens.create(params={"card": card}).id

    return make


@pytest.fixture
def paying_shop(shop, stripe_backend):
    """A merchant with test-mode Stripe credentials pointing at localstripe."""
    from merchants import services

    services.processor_credential_set(
        merchant=shop.merchant, livemode=False, secret_key="sk_test_paying_shop", publishable_key="pk_test_paying_shop"
    )
    return shop


def processor_payment_intents(stripe_backend) -> list[dict]:
    """Every PaymentIntent localstripe holds: the ground truth for 'how many charges were made' (every page)."""
    import json

    intents, after = [], ""
    while True:
        page = json.loads(stripe_backend.request("GET", f"/v1/payment_intents?limit=100{after}"))
        intents += page["data"]
        if not page.get("has_more") or not page["data"]:
            return intents
        after = f"&starting_after={page['data'][-1]['id']}"


@pytest.fixture
def emails_on_commit(monkeypatch, mailoutbox, django_capture_on_commit_callbacks):
    """Run what commits queue (kassa.celery.enqueue_on_commit) as a worker would, in place: Celery eager.

    ``with emails_on_commit():`` around a payment, a refund or an invitation;
    the emails land in ``mailoutbox``. The tasks are the real ones, run by Celery.
    """
    from kassa.celery import app

    app.loader.import_default_modules()  # every tasks module, as a worker loads them
    monkeypatch.setattr(app.conf, "task_always_eager", True)

    def run():
        return django_capture_on_commit_callbacks(execute=True)

    return run
