"""python manage.py createclient NAME --grant-types a,b --redirect-uri URI --scope "read write"
[--resource URI] [--public] [--json]"""

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from oauth_tokens.provider.models import GRANT_TYPES, Client
from oauth_tokens.provider.validators import (
    validate_client_resources,
    validate_client_scope,
    validate_redirect_uris,
)


class Command(BaseCommand):
    help = "Register an OAuth client and print its client_id and (once) its secret."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument(
            "--grant-types",
            default="authorization_code,refresh_token",
            help="Comma-separated: authorization_code, refresh_token, client_credentials.",
        )
        parser.add_argument("--redirect-uri", action="append", default=[], dest="redirect_uris",
                            help="Exact redirect URI; repeat for several.")
        parser.add_argument("--scope", default="read", help='Space-separated scopes, e.g. "read write".')
        parser.add_argument("--resource", action="append", default=[], dest="resources",
                            help="A resource (RFC 8707) the client may get tokens for; repeat for several. "
                                 "None: any that OAUTH_TOKENS['RESOURCES'] allows.")
        parser.add_argument("--public", action="store_true", help="A public client (PKCE, no secret).")
        parser.add_argument("--json", action="store_true", help="Print {client_id, client_secret} as JSON.")

    def handle(self, *args, name, grant_types, redirect_uris, scope, public, json: bool, resources=(), **options):
        name = name.strip()
        if not name:
            raise CommandError("Give the client a name.")
        grants = [g.strip() for g in grant_types.split(",") if g.strip()]
        known = {g for g, _ in GRANT_TYPES}
        unknown = [g for g in grants if g not in known]
        if unknown or not grants:
            raise CommandError(
                f"Unknown grant type(s): {', '.join(unknown) or '(none)'}; choose from {', '.join(sorted(known))}."
            )
        if public and "client_credentials" in grants:
            raise CommandError("A public client cannot use client_credentials.")
        if "authorization_code" in grants and not redirect_uris:
            raise CommandError("authorization_code needs --redirect-uri.")
        try:
            uris = validate_redirect_uris(" ".join(redirect_uris))
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        try:
            scope = validate_client_scope(scope)
        except ValidationError as exc:
            raise CommandError("--scope: " + "; ".join(exc.messages)) from None
        try:
            allowed_resources = validate_client_resources(" ".join(resources))
        except ValidationError as exc:
            raise CommandError("--resource: " + "; ".join(exc.messages)) from None
        client = Client(
            name=name,
            client_type=Client.PUBLIC if public else Client.CONFIDENTIAL,
            grant_types=" ".join(grants),
            redirect_uris=uris,
            scope=scope,
            resources=allowed_resources,
        )
        secret = None if public else client.set_secret()
        client.save()
        if json:
            self.stdout.write(_json({"client_id": client.client_id, "client_secret": secret}))
            return
        self.stdout.write(f"client_id:     {client.client_id}")
        if secret:
            self.stdout.write(f"client_secret: {secret}")
            self.stdout.write(self.style.WARNING("Store the secret now: it is not kept and cannot be shown again."))


def _json(data) -> str:
    return json.dumps(data)
