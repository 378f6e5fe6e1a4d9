"""Create the demo user and clients and print how to get tokens with curl."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from example_project.demo.consumer import setup_self_loop
from oauth_tokens.oauth2.pkce import s256
from oauth_tokens.provider.models import Client
from oauth_tokens.settings import token_settings

#: An example PKCE pair (RFC 7636 appendix B), printed so the curl commands can be pasted.
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
CHALLENGE = s256(VERIFIER)
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


class Command(BaseCommand):
    help = "Create a demo user (demo / demo-password) and demo clients, and print curl commands."

    def handle(self, *args, **options):
        User = get_user_model()
        user, created = User.objects.get_or_create(username="demo", defaults={"email": "demo@example.com"})
        if created:
            user.set_password("demo-password")
            user.is_staff = user.is_superuser = True
            user.save()
        # Secrets are only stored as digests, so each run makes fresh demo secrets.
        Client.objects.filter(name__startswith="Demo ").delete()
        issuer = BASE = token_settings.issuer  # the demo site is its own issuer
        web = Client(
            name="Demo web app",
            grant_types="authorization_code refresh_token",
            redirect_uris=f"{BASE}/demo/callback",
            scope="read write openid profile email",
        )
        web_secret = web.set_secret()
        web.save()
        service = Client(name="Demo service", grant_types="client_credentials", scope="read write")
        service_secret = service.set_secret()
        service.save()
        # A public client (no secret) for the device grant (RFC 8628): a TV or a CLI.
        device = Client(name="Demo device", client_type=Client.PUBLIC, grant_types=f"{DEVICE_GRANT} refresh_token",
                        scope="read")
        device.save()
        self.stdout.write(self.style.SUCCESS("\nDemo ready. Log in at /admin/ as demo / demo-password.\n"))
        self.stdout.write(f"""Web app (authorization_code + refresh_token, PKCE S256):
  client_id={web.client_id}
  client_secret={web_secret}
Service (client_credentials):
  client_id={service.client_id}
  client_secret={service_secret}
Device (device grant, public: no secret):
  client_id={device.client_id}

1) client_credentials:
  curl -s -X POST {issuer}/oauth/token -u '{service.client_id}:{service_secret}' \\
       -d grant_type=client_credentials -d scope=read

2) authorization code + PKCE (an example verifier; the URL carries its S256 challenge):
  VERIFIER={VERIFIER}
  open in a browser (log in as demo / demo-password, click Allow):
  {issuer}/oauth/authorize?response_type=code&client_id={web.client_id}&redirect_uri={BASE}/demo/callback&scope=read%20openid%20profile%20email&state=xyz&code_challenge={CHALLENGE}&code_challenge_method=S256
  then, with the code shown on the callback page:
  curl -s -X POST {issuer}/oauth/token -H 'Content-Type: application/json' -d '{{
    "grant_type": "authorization_code", "client_id": "{web.client_id}", "client_secret": "{web_secret}",
    "code": "CODE", "redirect_uri": "{BASE}/demo/callback", "code_verifier": "'$VERIFIER'"}}'

3) refresh (rotates: the response carries a new refresh token):
  curl -s -X POST {issuer}/oauth/token -H 'Content-Type: application/json' -d '{{
    "grant_type": "refresh_token", "client_id": "{web.client_id}", "client_secret": "{web_secret}",
    "refresh_token": "REFRESH_TOKEN"}}'

4) call the API and validate the token:
  curl -s {issuer}/api/me -H 'Authorization: Bearer ACCESS_TOKEN'
  curl -s {issuer}/oauth/token -H 'Authorization: Bearer ACCESS_TOKEN'

5) device grant (a TV or a CLI): start, open verification_uri_complete in a browser
   and click Allow, then poll with the device_code:
  curl -s -X POST {issuer}/oauth/device_authorization -d client_id={device.client_id} -d scope=read
  curl -s -X POST {issuer}/oauth/token -d client_id={device.client_id} \\
       -d grant_type={DEVICE_GRANT} -d device_code=DEVICE_CODE

6) dynamic client registration (RFC 7591; open to public clients here), then read it (RFC 7592)
   with the registration_access_token and registration_client_uri of the answer:
  curl -s -X POST {issuer}/oauth/register -H 'Content-Type: application/json' -d '{{
    "client_name": "My CLI", "redirect_uris": ["http://127.0.0.1:53682/callback"],
    "grant_types": ["authorization_code", "refresh_token"], "token_endpoint_auth_method": "none"}}'
  curl -s REGISTRATION_CLIENT_URI -H 'Authorization: Bearer REGISTRATION_ACCESS_TOKEN'
""")
        self.stdout.write(setup_self_loop(BASE))
