"""The clients of each side and the tokens the benchmarked requests present.

Our tokens come from our real token endpoint (authorization_code + PKCE), except
the cold-use tokens, which are signed for seeded ``jti`` rows with the
provider's own claim builder and key (signing thousands through the endpoint
would only slow the set-up). The peers' tokens are made their own way.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlencode

from django.contrib.auth import get_user_model
from django.utils import timezone

from bench.harness import Driver

REDIRECT = "https://app.example.test/cb"
VERIFIER = "bench-verifier-" + "x" * 40
FORM = "application/x-www-form-urlencoded"


def basic(client_id: str, secret: str) -> dict[str, str]:
    value = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {value}"}


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def form(**data: str) -> bytes:
    return urlencode(data).encode()


@dataclass
class Clients:
    ours: object
    ours_secret: str
    dot_cc: object
    dot_cc_secret: str
    dot_code: object
    dot_code_secret: str
    # "Tuned DOT": the same applications with hash_client_secret=False, the setting a
    # DOT user who cares about the token endpoint's speed turns off (secret compared as is).
    tuned_cc: object = None
    tuned_cc_secret: str = ""
    tuned_code: object = None
    tuned_code_secret: str = ""


@dataclass
class Tokens:
    ours_access: str = ""
    ours_refresh: str = ""
    # Two more families for bench/monitoring.py: rotated with anomaly detection on, and off.
    ours_refresh_monitored: str = ""
    ours_refresh_unmonitored: str = ""
    ours_cold: list[str] = field(default_factory=list)
    # A DPoP-bound access token (RFC 9449) and the private key it is bound to.
    ours_dpop: str = ""
    dpop_key: object = None
    dot_access: str = ""
    dot_refresh: str = ""
    tuned_refresh: str = ""
    simplejwt_access: str = ""


def create_clients() -> Clients:
    from oauth2_provider.models import get_application_model

    from oauth_tokens.provider.models import Client

    ours = Client(name="bench", client_type=Client.CONFIDENTIAL, redirect_uris=REDIRECT, scope="read write",
                  grant_types="authorization_code refresh_token client_credentials")
    ours_secret = ours.set_secret()
    ours.save()
    Application = get_application_model()
    # DOT's defaults: the plaintext secret is hashed on save (hash_client_secret=True, PBKDF2).
    dot_cc_secret, dot_code_secret = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    dot_cc = Application.objects.create(
        name="bench cc", client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS, client_secret=dot_cc_secret,
    )
    dot_code = Application.objects.create(
        name="bench code", client_type=Application.CLIENT_CONFIDENTIAL, redirect_uris=REDIRECT,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE, client_secret=dot_code_secret,
    )
    tuned_cc_secret, tuned_code_secret = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    tuned_cc = Application.objects.create(
        name="bench tuned cc", client_type=Application.CLIENT_CONFIDENTIAL, hash_client_secret=False,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS, client_secret=tuned_cc_secret,
    )
    tuned_code = Application.objects.create(
        name="bench tuned code", client_type=Application.CLIENT_CONFIDENTIAL, redirect_uris=REDIRECT,
        hash_client_secret=False, authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        client_secret=tuned_code_secret,
    )
    return Clients(ours, ours_secret, dot_cc, dot_cc_secret, dot_code, dot_code_secret,
                   tuned_cc, tuned_cc_secret, tuned_code, tuned_code_secret)


def our_code_exchange(driver: Driver, clients: Clients, user) -> dict:
    """Access + refresh token from our token endpoint, the way a client gets them."""
    from oauth_tokens.oauth2.pkce import s256
    from oauth_tokens.provider.models import AuthorizationCode

    _code, value = AuthorizationCode.issue(
        client=clients.ours, user=user, redirect_uri=REDIRECT, scope="read write",
        code_challenge=s256(VERIFIER), code_challenge_method="S256",
    )
    body = driver.request(
        "POST", "/oauth/token", basic(clients.ours.client_id, clients.ours_secret),
        form(grant_type="authorization_code", code=value, redirect_uri=REDIRECT, code_verifier=VERIFIER), FORM,
    )
    return json.loads(body)


def sign_cold_tokens(clients: Clients, count: int) -> list[str]:
    """Fresh access tokens (never presented yet) for live seeded rows."""
    from oauth_tokens.oauth2 import jwt as oauth_jwt
    from oauth_tokens.provider import keys
    from oauth_tokens.provider.models import AccessToken
    from oauth_tokens.settings import token_settings

    rows = AccessToken.objects.filter(client=clients.ours, revoked_at__isnull=True).values_list("jti", "user_id")
    issued_at = int(time.time())
    return [
        keys.sign(oauth_jwt.access_token_claims(
            issuer=token_settings.issuer, audience=token_settings.audience, subject=str(user_id),
            client_id=clients.ours.client_id, scope="read write", jti=jti, issued_at=issued_at, lifetime=3600,
        ))
        for jti, user_id in rows[:count]
    ]


def dot_tokens(clients: Clients, user, application=None) -> tuple[str, str]:
    """An access + refresh token pair of DOT's, for ``application`` (default: the hashed-secret one)."""
    from oauth2_provider.models import get_access_token_model, get_refresh_token_model

    AccessToken, RefreshToken = get_access_token_model(), get_refresh_token_model()
    application = application or clients.dot_code
    expires = timezone.now() + timedelta(hours=1)
    access = AccessToken.objects.create(user=user, application=application, token=secrets.token_urlsafe(30),
                                        expires=expires, scope="read write")
    refresh = RefreshToken.objects.create(user=user, application=application, token=secrets.token_urlsafe(30),
                                          access_token=access)
    return access.token, refresh.token


def simplejwt_token(user) -> str:
    from rest_framework_simplejwt.tokens import AccessToken

    token = AccessToken.for_user(user)
    token["scope"] = "read write"
    return str(token)


def make_tokens(driver: Driver, clients: Clients, cold: int) -> Tokens:
    user = get_user_model().objects.filter(username__startswith="bench").order_by("pk").first()
    ours = our_code_exchange(driver, clients, user)
    dot_access, dot_refresh = dot_tokens(clients, user)
    return Tokens(
        ours_access=ours["access_token"],
        ours_refresh=ours["refresh_token"],
        ours_refresh_monitored=our_code_exchange(driver, clients, user)["refresh_token"],
        ours_refresh_unmonitored=our_code_exchange(driver, clients, user)["refresh_token"],
        ours_cold=sign_cold_tokens(clients, cold),
        dot_access=dot_access,
        dot_refresh=dot_refresh,
        tuned_refresh=dot_tokens(clients, user, clients.tuned_code)[1],
        simplejwt_access=simplejwt_token(user),
        **dpop_token(clients),
    )


def dpop_token(clients: Clients) -> dict:
    """A client_credentials access token of ours bound to a new ES256 key (``cnf.jkt``)."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from bench.resource import jwk_of
    from oauth_tokens.oauth2 import dpop
    from oauth_tokens.provider.stores import OrmTokenStore

    key = ec.generate_private_key(ec.SECP256R1())
    store = OrmTokenStore(dpop_jkt=dpop.thumbprint(jwk_of(key)))
    return {"ours_dpop": store.issue_client_token(clients.ours, "read write").access_token, "dpop_key": key}
