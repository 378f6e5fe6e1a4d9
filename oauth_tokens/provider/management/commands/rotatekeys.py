"""python manage.py rotatekeys: add a new signing key; old keys stay in JWKS until their tokens expire.

``--remove=KID`` (repeatable; the ``=`` form, since a kid may start with
``-``) or ``--remove-all``: a key leaked. The new key is
added and the named keys (or every other key) are deleted in one transaction:
they leave the JWKS at once and tokens they signed stop verifying everywhere
within the key reload interval, cached tokens included.
"""

from django.core.management.base import BaseCommand, CommandError

from oauth_tokens.oauth2.jwt import ALGORITHMS
from oauth_tokens.provider import keys
from oauth_tokens.settings import token_settings


class Command(BaseCommand):
    help = (
        "Create a new signing key and retire the current one (it stays published until its tokens expire). "
        "With --remove KID or --remove-all (a leaked key), delete those keys now: their tokens stop verifying."
    )

    def add_arguments(self, parser):
        parser.add_argument("--algorithm", choices=ALGORITHMS, default=None)
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--remove", action="append", metavar="KID", default=[],
                           help="delete this key now (repeatable; write --remove=KID, a kid may start with '-'): "
                                "every token it signed stops verifying")
        group.add_argument("--remove-all", action="store_true",
                           help="delete every key but the new one now: every token issued so far stops verifying")

    def handle(self, *args, algorithm, remove, remove_all, **options):
        try:
            if remove or remove_all:
                key, removed = keys.replace_compromised(None if remove_all else remove, algorithm)
            else:
                key, removed = keys.rotate(algorithm), []
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"New signing key {key.kid} ({key.algorithm}).")
        if removed:
            self.stdout.write(
                f"Removed signing key(s) {', '.join(removed)}: they are no longer published, and tokens they "
                f"signed are refused by every process of this project within SIGNING_KEY_RELOAD_INTERVAL "
                f"({token_settings.SIGNING_KEY_RELOAD_INTERVAL:g} s) and by remote resource servers within "
                f"their JWKS_CACHE_TTL."
            )
