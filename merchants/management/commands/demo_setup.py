"""First-run set-up for ``make run``: a platform admin and a demo merchant, made once.

The secrets are written to ``var/demo.json`` (readable by the owner only,
development only) so that later runs can print them again; the database
itself holds only hashes. Running it again creates nothing new.
"""

import json
import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from merchants import services
from merchants.models import Merchant

DEMO_FILE = settings.VAR_DIR / "demo.json"


class Command(BaseCommand):
    help = "Create (once) and print the demo merchant, its keys and the dashboard logins."

    def handle(self, *args, **options):
        demo = self._load()
        if demo is None or not Merchant.objects.filter(public_id=demo["merchant_id"]).exists():
            demo = self._create()
        self._print(demo)

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
                secret_key="sk_test_localstripe_demo",
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

    def _print(self, demo):
        base = settings.KASSA_PUBLIC_URL
        self.stdout.write(
            f"""
Kassa is starting (development mode: SQLite, filesystem broker, localstripe).

  Dashboard      {base}/admin/
    platform staff   {demo["admin"]["username"]} / {demo["admin"]["password"]}
    merchant owner   {demo["owner"]["username"]} / {demo["owner"]["password"]}   (Demo Shop)
  API            {base}/v1/      docs: {base}/v1/docs/
    test secret key       {demo["secret_key"]}
    test publishable key  {demo["publishable_key"]}

  With stripe-python:
    client = stripe.StripeClient("{demo["secret_key"]}", base_addresses={{"api": "{base}"}})
    client.v1.customers.create(params={{"email": "a@example.com"}})

Ctrl-C stops everything.
"""
        )
