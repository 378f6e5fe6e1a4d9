"""``python manage.py reencrypt_tokens``: rewrite stored tokens under the newest key."""

from django.core.management.base import BaseCommand

from oauth_tokens.consumer.maintenance import reencrypt
from oauth_tokens.consumer.progress import ProgressBar


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored external token with the first OAUTH_TOKENS['ENCRYPTION_KEYS'] key. "
        "Run it after putting a new key first; then the old key can be removed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args, **options):
        count = reencrypt(batch_size=options["batch_size"], progress=ProgressBar(self.stdout, "Re-encrypting"))
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {count} token row(s) under the newest key."))
