"""python manage.py rotatekeys: add a new signing key; old keys stay in JWKS until their tokens expire."""

from django.core.management.base import BaseCommand, CommandError

from oauth_tokens.oauth2.jwt import ALGORITHMS
from oauth_tokens.provider import keys


class Command(BaseCommand):
    help = "Create a new signing key and retire the current one (it stays published until its tokens expire)."

    def add_arguments(self, parser):
        parser.add_argument("--algorithm", choices=ALGORITHMS, default=None)

    def handle(self, *args, algorithm, **options):
        try:
            key = keys.rotate(algorithm)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"New signing key {key.kid} ({key.algorithm}).")
