"""python manage.py cleartokens: delete expired codes and tokens in batches."""

from django.core.management.base import BaseCommand

from oauth_tokens.provider.cleanup import clear_expired


class Command(BaseCommand):
    help = "Delete expired authorization codes, access tokens and refresh token families, in batches."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=1000)

    def handle(self, *args, batch_size, **options):
        counts = clear_expired(batch_size=batch_size)
        self.stdout.write(", ".join(f"{n} {name}" for name, n in counts.items()) + " deleted.")
