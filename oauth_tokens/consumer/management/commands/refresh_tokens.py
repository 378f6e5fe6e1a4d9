"""``python manage.py refresh_tokens``: refresh stored tokens that expire soon."""

from django.core.management.base import BaseCommand, CommandError

from oauth_tokens.consumer.maintenance import refresh_expiring
from oauth_tokens.consumer.progress import ProgressBar


class Command(BaseCommand):
    help = (
        "Refresh active external tokens that expire within --within seconds (default: each provider's "
        "refresh_leeway). Safe to run from cron or Celery beat next to live traffic: refreshes are single-flight."
    )

    def add_arguments(self, parser):
        parser.add_argument("--within", type=float, default=None, help="Seconds; default: the provider's leeway.")
        parser.add_argument("--provider", default=None, help="Only this provider.")

    def handle(self, *args, **options):
        report = refresh_expiring(
            within=options["within"],
            provider=options["provider"],
            progress=ProgressBar(self.stdout, "Refreshing"),
        )
        self.stdout.write(self.style.SUCCESS(f"Refreshed {report.refreshed} token(s)."))
        if report.needs_reauth:
            self.stdout.write(self.style.WARNING(f"{report.needs_reauth} token(s) need the user to connect again."))
        if report.failed:
            raise CommandError("\n".join(report.failed))
