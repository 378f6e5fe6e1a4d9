"""Create the demo user and clients and print how to get tokens with curl.

Running it again keeps the demo clients (and so their client ids, which the
commands pasted into a shell and any bookmarked URL use) and gives each
confidential client a new secret: secrets are stored as digests only, so the
old ones cannot be shown again.
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from example_project.demo.consumer import setup_self_loop
from oauth_tokens.provider.models import Client
from oauth_tokens.settings import token_settings

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def demo_clients(base: str) -> dict[str, tuple[str, dict]]:
    """The demo clients of the site at ``base``: the environment variable prefix printed
    for each, its name and its fields."""
    return {
        "WEB": ("Demo web app", {"grant_types": "authorization_code refresh_token",
                                 "redirect_uris": f"{base}/demo/callback",
                                 "scope": "read write openid profile email"}),
        "SERVICE": ("Demo service", {"grant_types": "client_credentials", "scope": "read write"}),
        # A public client (no secret) for the device grant (RFC 8628): a TV or a CLI.
        "DEVICE": ("Demo device", {"client_type": Client.PUBLIC, "grant_types": f"{DEVICE_GRANT} refresh_token",
                                   "scope": "read"}),
    }

#: Shell one-liners: a PKCE verifier, its S256 challenge (RFC 7636 section 4), one field of a JSON answer.
MAKE_VERIFIER = "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
MAKE_CHALLENGE = ("python3 -c 'import base64, hashlib, sys; print(base64.urlsafe_b64encode("
                  "hashlib.sha256(sys.argv[1].encode()).digest()).rstrip(b\"=\").decode())' \"$VERIFIER\"")
FIELD = "field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' \"$1\"; }"


def demo_client(name: str, fields: dict) -> tuple[Client, str, bool]:
    """The demo client called ``name``, made or brought up to date; a new secret if it has one."""
    clients = list(Client.objects.filter(name=name).order_by("pk"))
    for extra in clients[1:]:  # demo runs before ids were kept made a new client each time
        extra.delete()
    client = clients[0] if clients else Client(name=name)
    for field, value in {"client_type": Client.CONFIDENTIAL, "redirect_uris": "", **fields}.items():
        setattr(client, field, value)
    secret = client.set_secret() if client.client_type == Client.CONFIDENTIAL else ""
    client.save()
    return client, secret, not clients


class Command(BaseCommand):
    help = ("Create a demo user (demo / demo-password) and demo clients, and print them as export "
            "lines with curl commands that use them. Run again, it keeps the client ids and prints new secrets.")

    def handle(self, *args, **options):
        User = get_user_model()
        user, created = User.objects.get_or_create(username="demo", defaults={"email": "demo@example.com"})
        if created:
            user.set_password("demo-password")
            user.is_staff = user.is_superuser = True
            user.save()
        base = token_settings.issuer  # the demo site is its own issuer
        made = {prefix: demo_client(name, fields) for prefix, (name, fields) in demo_clients(base).items()}
        kept = [made_client.name for made_client, _, new in made.values() if not new]
        web, service, device = made["WEB"][0], made["SERVICE"][0], made["DEVICE"][0]

        self.stdout.write(self.style.SUCCESS(f"\nDemo ready. Log in at {base}/admin/ as demo / demo-password.\n"))
        if kept:
            self.stdout.write(f"Kept the client ids of {', '.join(kept)}; the secrets below are new "
                              "(only their digests are stored, so the old ones are gone).\n")
        self.stdout.write("Paste these lines into the shell where you run the commands below:\n")
        for prefix, (client, secret, _) in made.items():
            self.stdout.write(f"export {prefix}_CLIENT_ID={client.client_id}")
            if secret:
                self.stdout.write(f"export {prefix}_CLIENT_SECRET={secret}")
        code_lifetime = token_settings.AUTHORIZATION_CODE_LIFETIME
        callback = f"{base}/demo/callback"
        authorize = (f"{base}/oauth/authorize?response_type=code&client_id=$WEB_CLIENT_ID&redirect_uri={callback}"
                     "&scope=read%20openid%20profile%20email&state=xyz&code_challenge=$CHALLENGE"
                     "&code_challenge_method=S256")
        self.stdout.write(f"""
# A helper the commands use: prints one field of a JSON answer.
{FIELD}

# 1) client_credentials ({service.name}), then call the API with the token
ACCESS_TOKEN=$(curl -s -w '\\n' -X POST {base}/oauth/token -u "$SERVICE_CLIENT_ID:$SERVICE_CLIENT_SECRET" \\
  -d grant_type=client_credentials -d scope=read | field access_token)
curl -s -w '\\n' {base}/api/me -H "Authorization: Bearer $ACCESS_TOKEN"

# 2) authorization code + PKCE ({web.name}): make a verifier and its S256 challenge,
#    open the URL that echo prints in a browser (log in as demo / demo-password, click Allow),
#    and set CODE to the code the callback page shows. A code works once, for {code_lifetime} seconds.
VERIFIER=$({MAKE_VERIFIER})
CHALLENGE=$({MAKE_CHALLENGE})
echo "{authorize}"
CODE=paste-the-code-here
TOKENS=$(curl -s -w '\\n' -X POST {base}/oauth/token -u "$WEB_CLIENT_ID:$WEB_CLIENT_SECRET" \\
  -d grant_type=authorization_code -d code="$CODE" -d redirect_uri={callback} -d code_verifier="$VERIFIER")
echo "$TOKENS"
ACCESS_TOKEN=$(echo "$TOKENS" | field access_token)
REFRESH_TOKEN=$(echo "$TOKENS" | field refresh_token)

# 3) refresh: the answer carries a NEW refresh token; the old one is spent
TOKENS=$(curl -s -w '\\n' -X POST {base}/oauth/token -u "$WEB_CLIENT_ID:$WEB_CLIENT_SECRET" \\
  -d grant_type=refresh_token -d refresh_token="$REFRESH_TOKEN")
echo "$TOKENS"
ACCESS_TOKEN=$(echo "$TOKENS" | field access_token)
REFRESH_TOKEN=$(echo "$TOKENS" | field refresh_token)

# 4) call the API, validate the token, and introspect it as the client it was issued to
curl -s -w '\\n' {base}/api/me -H "Authorization: Bearer $ACCESS_TOKEN"
curl -s -w '\\n' {base}/oauth/token -H "Authorization: Bearer $ACCESS_TOKEN"
curl -s -w '\\n' -X POST {base}/oauth/introspect -u "$WEB_CLIENT_ID:$WEB_CLIENT_SECRET" -d token="$ACCESS_TOKEN"

# 5) device grant ({device.name}, a TV or a CLI): start, open verification_uri_complete
#    in a browser and click Allow, then poll with the device_code
DEVICE=$(curl -s -w '\\n' -X POST {base}/oauth/device_authorization -d client_id="$DEVICE_CLIENT_ID" -d scope=read)
echo "$DEVICE"
curl -s -w '\\n' -X POST {base}/oauth/token -d client_id="$DEVICE_CLIENT_ID" \\
  -d grant_type={DEVICE_GRANT} -d device_code="$(echo "$DEVICE" | field device_code)"

# 6) dynamic client registration (RFC 7591; open to public clients here), then read
#    the registration back (RFC 7592) with the registration_access_token it returned
REGISTERED=$(curl -s -w '\\n' -X POST {base}/oauth/register -H 'Content-Type: application/json' -d '{{
  "client_name": "My CLI", "redirect_uris": ["http://127.0.0.1:53682/callback"],
  "grant_types": ["authorization_code", "refresh_token"], "token_endpoint_auth_method": "none"}}')
curl -s -w '\\n' "$(echo "$REGISTERED" | field registration_client_uri)" \\
  -H "Authorization: Bearer $(echo "$REGISTERED" | field registration_access_token)"
""")
        self.stdout.write(setup_self_loop(base))
