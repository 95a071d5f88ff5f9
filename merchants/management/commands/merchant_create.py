"""manage.py merchant_create --name NAME --owner-email EMAIL [--json] [--no-invite] [--language fr]"""

import json

from django.core.management.base import BaseCommand, CommandError

from kassa import mail
from kassa.errors import KassaError
from merchants import services


class Command(BaseCommand):
    help = "Create a merchant with its owner and a pair of test API keys, and print them (once)."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--owner-email", required=True)
        parser.add_argument("--owner-password", default=None, help="Optional; otherwise set one later.")
        parser.add_argument("--currency", default="usd")
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")
        parser.add_argument(
            "--no-invite", action="store_true", help="Do not email the owner an invitation (with a set-password link)."
        )
        parser.add_argument("--language", default="en", choices=mail.LANGUAGES, help="The invitation's language.")

    def handle(self, *args, **options):
        try:
            created = services.merchant_create(
                name=options["name"],
                owner_email=options["owner_email"],
                owner_password=options["owner_password"],
                default_currency=options["currency"],
                invite=not options["no_invite"],
                language=options["language"],
            )
        except KassaError as exc:
            raise CommandError(exc.message) from exc
        result = {
            "id": created.merchant.public_id,
            "name": created.merchant.name,
            "owner_email": created.owner.email,
            "secret_key": created.secret_key.secret,
            "publishable_key": created.publishable_key.secret,
            "livemode": False,
        }
        if options["json"]:
            self.stdout.write(json.dumps(result))
        else:
            self.stdout.write(f"Merchant {result['name']} ({result['id']}), owner {result['owner_email']}")
            self.stdout.write(f"  test secret key:      {result['secret_key']}   (shown once)")
            self.stdout.write(f"  test publishable key: {result['publishable_key']}")
            if not options["no_invite"]:
                self.stdout.write(f"  an invitation to log in is emailed to {result['owner_email']}")
