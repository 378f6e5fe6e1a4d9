"""python manage.py createregistrationtoken NAME [--expires-in SECONDS] [--max-uses N] [--json]"""

import json
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from oauth_tokens.provider import models
from oauth_tokens.provider.models import InitialAccessToken


class Command(BaseCommand):
    help = ("Make an initial access token for dynamic client registration (RFC 7591 section 3) "
            "and print it once; only its digest is stored.")

    def add_arguments(self, parser):
        parser.add_argument("name", help="Who it is for, what for (shown in the admin).")
        parser.add_argument("--expires-in", type=int, default=None, metavar="SECONDS",
                            help="Lifetime in seconds (default: no expiry).")
        parser.add_argument("--max-uses", type=int, default=None, metavar="N",
                            help="How many registrations it allows (default: any number).")
        parser.add_argument("--json", action="store_true", help='Print {"initial_access_token": ...} as JSON.')

    def handle(self, *args, name, expires_in, max_uses, json: bool, **options):
        name = name.strip()
        if not name:
            raise CommandError("Give the token a name.")
        if expires_in is not None and expires_in <= 0:
            raise CommandError("--expires-in must be a positive number of seconds.")
        if max_uses is not None and max_uses <= 0:
            raise CommandError("--max-uses must be a positive number.")
        expires_at = models.now() + timedelta(seconds=expires_in) if expires_in else None
        row, token = InitialAccessToken.issue(name, expires_at=expires_at, max_uses=max_uses)
        if json:
            self.stdout.write(_json({"initial_access_token": token, "name": row.name}))
            return
        self.stdout.write(f"initial access token: {token}")
        self.stdout.write("Shown once: only its digest is stored. Send it as "
                          "'Authorization: Bearer <token>' to the registration endpoint.")


_json = json.dumps
