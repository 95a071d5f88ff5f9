from django.core.management.base import BaseCommand

from merchants import services


class Command(BaseCommand):
    help = "Re-encrypt every stored secret (Stripe credentials, webhook secrets) with the first encryption key."

    def handle(self, *args, **options):
        count = services.encryption_keys_rotate()
        self.stdout.write(f"Re-encrypted {count} secret(s).")
