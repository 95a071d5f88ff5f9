"""Secrets at rest: API keys as hashes, Stripe credentials encrypted, nothing usable in the database."""

import json

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from kassa import crypto
from merchants import services
from merchants.models import APIKey, Merchant, ProcessorCredential


def _all_rows(table: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - fixed table names from the test
        return json.dumps(cursor.fetchall(), default=str)


def test_the_database_never_holds_a_usable_secret_key(shop, kassa):
    secret = shop.secret_key.secret
    dump = _all_rows(APIKey._meta.db_table)
    assert secret not in dump
    assert secret[8:] not in dump  # not even the random part
    stored = APIKey.objects.get(pk=shop.secret_key.api_key.pk)
    # What is stored does not work as a key.
    import stripe

    with pytest.raises(stripe.AuthenticationError):
        kassa(stored.secret_hash).v1.customers.list()
    with pytest.raises(stripe.AuthenticationError):
        kassa(f"sk_test_{stored.secret_hash}").v1.customers.list()
    assert kassa(secret).v1.customers.list().object == "list"


def test_publishable_keys_are_public_and_kept_readable(shop):
    assert shop.publishable_key.api_key.publishable_token == shop.publishable_key.secret


def test_stripe_credentials_are_encrypted_at_rest(shop):
    secret, webhook = "sk_test_51SuperSecretValue9876", "whsec_SigningSecretValue1234"
    credential = services.processor_credential_set(
        merchant=shop.merchant, livemode=False, secret_key=secret, webhook_secret=webhook
    )
    dump = _all_rows(ProcessorCredential._meta.db_table)
    assert secret not in dump
    assert "SuperSecretValue" not in dump
    assert webhook not in dump
    assert "SigningSecretValue" not in dump
    assert (credential.secret_key_hint, credential.webhook_secret_hint) == ("sk_test_…9876", "whsec_…1234")
    assert crypto.decrypt(credential.secret_key_ciphertext) == secret


def test_credentials_of_the_wrong_mode_are_refused(shop):
    from kassa.errors import InvalidRequest

    with pytest.raises(InvalidRequest):
        services.processor_credential_set(merchant=shop.merchant, livemode=False, secret_key="sk_live_abc")
    with pytest.raises(InvalidRequest):
        services.processor_credential_set(merchant=shop.merchant, livemode=True, secret_key="sk_test_abc")
    with pytest.raises(InvalidRequest):
        services.processor_credential_set(
            merchant=shop.merchant, livemode=False, secret_key="sk_test_a", webhook_secret="nope"
        )
    assert not ProcessorCredential.objects.exists()


def test_encryption_keys_rotate(shop, settings):
    secret = "sk_test_rotate_me_0001"
    credential = services.processor_credential_set(merchant=shop.merchant, livemode=False, secret_key=secret)
    from webhooks.services import delivery, endpoints

    endpoint, signing_secret = endpoints.webhook_endpoint_create(
        merchant=shop.merchant, livemode=False, url="http://127.0.0.1:9/hook", enabled_events=["*"]
    )
    old_key = settings.KASSA_ENCRYPTION_KEYS[0]
    new_key = Fernet.generate_key().decode()
    settings.KASSA_ENCRYPTION_KEYS = [new_key, old_key]
    call_command("rotate_encryption_keys", stdout=open("/dev/null", "w"))  # noqa: SIM115
    settings.KASSA_ENCRYPTION_KEYS = [new_key]  # the old key retired
    credential.refresh_from_db()
    assert crypto.decrypt(credential.secret_key_ciphertext) == secret
    endpoint.refresh_from_db()
    assert delivery.signing_secrets(endpoint) == [signing_secret]


def test_check_connection_against_stripe(shop, stripe_backend):
    good = services.processor_credential_set(merchant=shop.merchant, livemode=False, secret_key="sk_test_works")
    assert services.processor_credential_check(credential=good).last_check_ok is True
    bad = services.processor_credential_set(merchant=shop.merchant, livemode=False, secret_key="rk_test_rejected")
    checked = services.processor_credential_check(credential=bad)
    assert checked.last_check_ok is False
    assert "rejected" in checked.last_check_message


def test_merchant_create_command_prints_json_once(db, capsys):
    call_command("merchant_create", "--name", "Cli Shop", "--owner-email", "cli@example.com", "--json")
    result = json.loads(capsys.readouterr().out)
    assert result["id"].startswith("acct_")
    assert result["secret_key"].startswith("sk_test_")
    assert result["publishable_key"].startswith("pk_test_")
    merchant = Merchant.objects.get(public_id=result["id"])
    assert merchant.memberships.get().user.email == "cli@example.com"
    assert merchant.memberships.get().role == "owner"


def test_merchant_create_command_refuses_bad_input(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("merchant_create", "--name", "X", "--owner-email", "x@example.com", "--currency", "zzz")
    assert not Merchant.objects.exists()


def test_log_records_never_carry_keys(caplog):
    import logging

    from kassa.logging import RedactSecretsFilter

    logger = logging.getLogger("kassa.test")
    logger.addFilter(RedactSecretsFilter())
    try:
        with caplog.at_level(logging.INFO, logger="kassa.test"):
            logger.info("using %s and %s for card 4242424242424242", "sk_live_abcdef1234567890", "whsec_zzzzyyyy")
    finally:
        logger.filters.clear()
    text = caplog.text
    assert "abcdef1234567890" not in text
    assert "zzzzyyyy" not in text
    assert "4242424242424242" not in text
    assert "sk_live_[redacted]" in text


def test_a_hosted_invoices_token_never_reaches_the_log(client, shop):
    """The token in a hosted invoice page's path is the payer's only credential: Django logs the path of every request
    answered 4xx (a card refused, a form incomplete), and the log, as Kassa's configured handler writes it (its
    stream read here), shows it masked."""
    import io
    import logging

    from billing.hosted import framing
    from kassa.logging import RedactSecretsFilter
    from tests import factories

    (console,) = [h for h in logging.getLogger().handlers if any(isinstance(f, RedactSecretsFilter) for f in h.filters)]
    payer = factories.customer(shop.merchant, email="ada@example.com", name="Ada")
    invoice = factories.open_invoice(shop.merchant, customer=payer, price=factories.price(shop.merchant))
    written = io.StringIO()
    kept = console.setStream(written)
    try:
        answer = client.post(
            f"/invoices/{invoice.token}/pay",
            data=b"{}",
            content_type="application/json",
            HTTP_X_KASSA_PAGE_TOKEN=framing.page_token(invoice),
        )
    finally:
        console.setStream(kept)
    assert answer.status_code in (400, 402)
    assert "/invoices/[redacted]/pay" in written.getvalue()
    assert invoice.token not in written.getvalue()


_SERVER_LOG_SCRIPT = """
import datetime, importlib, logging, sys
from types import SimpleNamespace
from gunicorn.config import Config
from gunicorn.glogging import Logger
importlib.import_module(sys.argv[1])  # the server's entry point, as gunicorn (bin/web) or an ASGI server loads it
cfg = Config()
cfg.set("accesslog", "-")  # bin/web's --access-logfile -
token = sys.argv[2]
environ = {
    "REQUEST_METHOD": "GET", "RAW_URI": f"/invoices/{token}/pdf", "SERVER_PROTOCOL": "HTTP/1.1",
    "REMOTE_ADDR": "203.0.113.9", "HTTP_REFERER": f"https://kassa.example/portal/{token}",
}
answer = SimpleNamespace(status="200 OK", headers=[], sent=1234)
Logger(cfg).access(answer, SimpleNamespace(headers=[]), environ, datetime.timedelta(milliseconds=5))
logging.getLogger("django.server").info('"GET /invoices/%s HTTP/1.1" 200 1234', token)  # runserver's line
"""


def test_the_web_servers_access_logs_mask_the_tokens_of_pages_a_link_opens():
    """gunicorn's access log (bin/web: every request, 200s too) and runserver's go to their own handlers, not through
    the root's filter: through either entry point, the lines they write show the paths masked."""
    import subprocess
    import sys
    from pathlib import Path

    from kassa.ids import random_string

    token = random_string(43)
    for entry in ("kassa.wsgi", "kassa.asgi"):
        done = subprocess.run(
            [sys.executable, "-c", _SERVER_LOG_SCRIPT, entry, token],
            cwd=Path(__file__).resolve().parents[2],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        assert (
            '"GET /invoices/[redacted]/pdf HTTP/1.1" 200 1234 "https://kassa.example/portal/[redacted]"' in done.stdout
        )
        assert '"GET /invoices/[redacted] HTTP/1.1" 200 1234' in done.stderr
        assert token not in done.stdout + done.stderr


def test_the_tokens_of_pages_a_link_opens_are_masked_and_public_ids_are_not():
    from kassa.logging import redact

    assert (
        redact("Bad Request: /portal/Zx8vQ2mN5kR7tY1uI3oP9aS4dF6gH0jK/card") == "Bad Request: /portal/[redacted]/card"
    )
    assert redact("Not Found: /portal/link/eyJjIjo0Mn0:1vX2Yz:AbCdEfGhIjKlMnOp") == "Not Found: /portal/link/[redacted]"
    assert redact("/reset/MQ/c2v5a0-0123456789abcdef0123456789abcdef/") == "/reset/MQ/[redacted]/"
    shown = "Not Found: /v1/invoices/in_1AbCdEfGhIjKlMnOpQrStUvW"
    assert redact(shown) == shown


def test_demo_setup_creates_the_demo_merchant_once(db, settings, tmp_path, capsys, monkeypatch):
    from billing.management.commands import demo_setup

    monkeypatch.setattr(demo_setup, "DEMO_FILE", tmp_path / "demo.json")
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"
    call_command("demo_setup")
    first = capsys.readouterr().out
    call_command("demo_setup")
    second = capsys.readouterr().out
    assert Merchant.objects.filter(name="Demo Shop").count() == 1
    demo = json.loads((tmp_path / "demo.json").read_text())
    assert demo["secret_key"] in first
    assert demo["secret_key"] in second  # the same keys, printed again
    assert oct((tmp_path / "demo.json").stat().st_mode & 0o777) == "0o600"
    assert ProcessorCredential.objects.filter(merchant__name="Demo Shop", livemode=False).exists()
