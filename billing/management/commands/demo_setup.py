"""First-run set-up for ``make run``: a platform admin and a demo merchant, made once.

The secrets are written to ``var/demo.json`` (readable by the owner only,
development only) so that later runs can print them again; the database
itself holds only hashes. Running it again creates nothing new.

With localstripe (``STRIPE_API_BASE`` set), the demo merchant gets a Stripe
webhook signing secret, and ``var/localstripe-webhooks.json`` tells the
localstripe launcher (Procfile) to send its events to the demo merchant's
``/webhooks/stripe/<merchant>/test/`` signed with it: the whole loop, Stripe
to Kassa to the merchant's endpoint, works out of the box.

With localstripe and ``DEBUG`` (``make run``) the demo shop also gets a small
catalogue and a payment link at once, and a task paid through localstripe
makes its first test payments once the worker and localstripe are up
(billing/demo.py). It lives in billing, the top layer, because it stocks the
catalogue.
"""

import json
import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from billing import demo as demo_shop
from billing.checkout.services import payment_link_url
from kassa.celery import enqueue
from merchants import selectors, services
from merchants.models import Merchant

DEMO_FILE = settings.VAR_DIR / "demo.json"
LOCALSTRIPE_WEBHOOKS_FILE = settings.VAR_DIR / "localstripe-webhooks.json"
DEMO_STRIPE_KEY = "sk_test_localstripe_demo"


class Command(BaseCommand):
    help = "Create (once) and print the demo merchant, its keys and the dashboard logins."

    def handle(self, *args, **options):
        demo = self._load()
        if demo is None or not Merchant.objects.filter(public_id=demo["merchant_id"]).exists():
            demo = self._create()
        pay_url = None
        if settings.STRIPE_API_BASE:
            self._connect_localstripe(demo)
            if settings.DEBUG:
                pay_url = self._stock_shop(demo)
        self._print(demo, pay_url)

    def _load(self):
        try:
            return json.loads(DEMO_FILE.read_text())
        except (FileNotFoundError, ValueError):
            return None

    @transaction.atomic
    def _create(self):
        User = get_user_model()
        admin_password = secrets.token_urlsafe(12)
        admin, _ = User.objects.get_or_create(username="admin", defaults={"email": "admin@kassa.test"})
        admin.is_staff = admin.is_superuser = True
        admin.set_password(admin_password)
        admin.save()
        owner_password = secrets.token_urlsafe(12)
        created = services.merchant_create(
            name="Demo Shop", owner_email="owner@demo.test", owner_password=owner_password
        )
        if settings.STRIPE_API_BASE:
            # localstripe accepts any sk_test_ key; real Stripe keys are entered in the dashboard.
            services.processor_credential_set(
                merchant=created.merchant,
                livemode=False,
                secret_key=DEMO_STRIPE_KEY,
                publishable_key="pk_test_localstripe_demo",
            )
        demo = {
            "merchant_id": created.merchant.public_id,
            "admin": {"username": "admin", "password": admin_password},
            "owner": {"username": created.owner.username, "password": owner_password},
            "secret_key": created.secret_key.secret,
            "publishable_key": created.publishable_key.secret,
        }
        DEMO_FILE.write_text(json.dumps(demo, indent=2))
        os.chmod(DEMO_FILE, 0o600)
        return demo

    def _connect_localstripe(self, demo) -> None:
        """Give the demo merchant a Stripe signing secret (once) and point localstripe's webhooks at Kassa."""
        merchant = Merchant.objects.get(public_id=demo["merchant_id"])
        if not demo.get("stripe_webhook_secret"):
            demo["stripe_webhook_secret"] = "whsec_" + secrets.token_urlsafe(24)
            services.processor_credential_set(
                merchant=merchant,
                livemode=False,
                secret_key=DEMO_STRIPE_KEY,
                publishable_key="pk_test_localstripe_demo",
                webhook_secret=demo["stripe_webhook_secret"],
            )
            DEMO_FILE.write_text(json.dumps(demo, indent=2))
        hooks = {
            "kassa-demo": {
                "url": selectors.processor_events_url(merchant=merchant, livemode=False),
                "secret": demo["stripe_webhook_secret"],
                "events": None,
            }
        }
        LOCALSTRIPE_WEBHOOKS_FILE.write_text(json.dumps(hooks, indent=2))
        os.chmod(LOCALSTRIPE_WEBHOOKS_FILE, 0o600)

    def _stock_shop(self, demo) -> str:
        """The demo's catalogue and link now; its test payments by the worker once localstripe answers."""
        merchant = Merchant.objects.get(public_id=demo["merchant_id"])
        link = demo_shop.demo_shop_stock(merchant=merchant)
        enqueue("billing.tasks.demo_payments_make", merchant.public_id)
        return payment_link_url(link)

    def _webhook_line(self, demo) -> str:
        if not demo.get("stripe_webhook_secret"):
            return ""
        merchant = Merchant.objects.get(public_id=demo["merchant_id"])
        url = selectors.processor_events_url(merchant=merchant, livemode=False)
        return f"  Stripe events  localstripe sends the demo shop's events to {url}\n"

    def _print(self, demo, pay_url: str | None = None):
        base = settings.KASSA_PUBLIC_URL
        pay_line = f"  Pay page       {pay_url}   (card 4242 4242 4242 4242)\n" if pay_url else ""
        self.stdout.write(
            f"""
Kassa is starting (development mode: SQLite, filesystem broker, localstripe).

  Dashboard      {base}/admin/
    platform staff   {demo["admin"]["username"]} / {demo["admin"]["password"]}
    merchant owner   {demo["owner"]["username"]} / {demo["owner"]["password"]}   (Demo Shop)
  API            {base}/v1/      docs: {base}/v1/docs/
    test secret key       {demo["secret_key"]}
    test publishable key  {demo["publishable_key"]}

{pay_line}{self._webhook_line(demo)}
  With stripe-python:
    client = stripe.StripeClient("{demo["secret_key"]}", base_addresses={{"api": "{base}"}})
    client.v1.customers.create(params={{"email": "a@example.com"}})

Ctrl-C stops everything.
"""
        )
