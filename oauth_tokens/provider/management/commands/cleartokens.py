"""python manage.py cleartokens: delete expired codes and tokens in batches."""

from django.core.management.base import BaseCommand, CommandError

from oauth_tokens.provider.cleanup import clear_expired


class Command(BaseCommand):
    help = "Delete expired authorization codes, access tokens and refresh token families, in batches."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=1000, help="Rows deleted per transaction.")

    def handle(self, *args, batch_size, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        counts = clear_expired(batch_size=batch_size)
        self.stdout.write(", ".join(f"{n} {name}" for name, n in counts.items()) + " deleted.")
