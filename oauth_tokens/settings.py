"""The one settings object, ``token_settings``, read lazily from ``settings.OAUTH_TOKENS``.

Read a value where it is used (``token_settings.ACCESS_TOKEN_LIFETIME``), never
into a class attribute or a default argument: tests and projects change
settings at run time and the object reloads on ``setting_changed``.

Durations (``DURATIONS``) are seconds, given as a number or as a
``datetime.timedelta`` (``"ACCESS_TOKEN_LIFETIME": timedelta(hours=1)``, the
way djangorestframework-simplejwt writes them); the reader turns a timedelta
into seconds, so every caller sees a number. Any other value of a duration, a
count (``COUNTS``), a number (``NUMBERS``), a flag (``FLAGS``, True or False) or
a choice (``CHOICES``) is refused here with an ``ImproperlyConfigured`` naming
the key, and by the system check ``oauth_tokens.E005`` before the first request.

Over our usual 300 lines because ``DEFAULTS`` is the reference of every
setting, each with the comment that says what it does.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from oauth_tokens import process_caches
from oauth_tokens.oauth2 import jwt_bearer, registration, token_exchange
from oauth_tokens.oauth2 import resources as resource_indicators

DEFAULTS: dict[str, Any] = {
    # Identity of this authorization server: the ``iss`` of every token and the
    # ``issuer`` of the metadata documents. Required when the provider runs.
    "ISSUER": None,
    # ``aud`` of access tokens (RFC 9068 section 3). None means RESOURCE when
    # that is set (RFC 8707 section 3: the default resource), else the issuer.
    "AUDIENCE": None,
    # Resource indicators (RFC 8707, docs/provider/index.md "Resource indicators"): the resource
    # identifiers (absolute URIs) this server issues access tokens for, as the
    # ``resource`` parameter names them. Empty: any https URI (http only for a
    # loopback host). The default audience above is always one. A client may be
    # limited further to its own list (Client.resources, in the admin).
    "RESOURCES": [],
    # Lifetimes in seconds (seeds: 1 h access, 30 d refresh).
    "ACCESS_TOKEN_LIFETIME": 3600,
    # The idle lifetime of a refresh token: each rotation gives the new token
    # this long, so a grant unused for this long ends.
    "REFRESH_TOKEN_LIFETIME": 30 * 24 * 3600,
    # The absolute lifetime of a refresh token family (a grant and all its
    # rotations), counted from the code exchange: no rotation outlives it, so a
    # grant used now and then still ends and the user authorizes again.
    "REFRESH_TOKEN_FAMILY_LIFETIME": 90 * 24 * 3600,
    "AUTHORIZATION_CODE_LIFETIME": 60,
    "ID_TOKEN_LIFETIME": 3600,
    # A retry with the immediately previous refresh token inside this window
    # gets the same successor pair (DESIGN.md section 4). For confidential
    # clients; a client's own value (admin) overrides it. 0 turns it off.
    "REFRESH_TOKEN_GRACE_PERIOD": 10,
    # The same for public clients without their own value: off by default, since
    # a public client cannot authenticate and anyone replaying its rotated token
    # inside the window would get the live pair (docs/security.md "Refresh tokens: grace
    # window and family lifetimes").
    "REFRESH_TOKEN_GRACE_PERIOD_PUBLIC": 0,
    # How many times one rotation's pair may be handed out again inside the
    # window (a retry, or a request that lost the race to rotate). One more is
    # treated as reuse: the family is revoked. Every replay is recorded.
    "REFRESH_TOKEN_GRACE_REPLAYS": 1,
    # Scopes this server knows, with the text shown on the consent page.
    "SCOPES": {
        "read": "Read your data",
        "write": "Change your data",
        "openid": "Know who you are",
        "profile": "See your name and username",
        "email": "See your email address",
    },
    # Signing algorithm of new keys: RS256 (default), ES256 or EdDSA.
    "SIGNING_ALGORITHM": "RS256",
    # Key for the HMAC-SHA256 digests of client secrets, codes and refresh
    # tokens. None derives one from SECRET_KEY. Old keys go in the fallbacks
    # list so rotating this key never invalidates what was issued.
    "DIGEST_KEY": None,
    "DIGEST_KEY_FALLBACKS": [],
    # Fernet keys (first encrypts, all decrypt) for signing keys at rest, the
    # grace-window successor and the consumer's stored tokens. Empty derives
    # one from SECRET_KEY (a check warns in production).
    "ENCRYPTION_KEYS": [],
    # Client-authentication throttle. A correct secret always authenticates;
    # after this many failures for one client id from one address inside the
    # window, further *wrong* secrets from that address get 429 (not 401) until
    # the window passes. The same count for one client id from any addresses
    # raises one alert per window (TokenEvent and signal client_auth_failures).
    # 0 turns the throttle and the alert off.
    "CLIENT_AUTH_FAILURE_LIMIT": 10,
    "CLIENT_AUTH_FAILURE_WINDOW": 60,
    # Failures from one address, whatever client ids they name, before its wrong
    # secrets get 429 (a NAT or a proxy may carry several clients). 0: no limit.
    "CLIENT_AUTH_ADDRESS_FAILURE_LIMIT": 50,
    # Reverse proxies in front of the app. 0 uses REMOTE_ADDR as the client's
    # address (throttle, audit); N uses the Nth entry from the right of
    # X-Forwarded-For. Behind a proxy, leaving 0 makes every client share the
    # proxy's address (and its throttle).
    "NUM_PROXIES": 0,
    # Require PKCE for confidential clients too (always required for public).
    "PKCE_REQUIRED": True,
    # Largest token-endpoint body accepted, in bytes.
    "MAX_BODY_SIZE": 16 * 1024,
    # Resource server (docs/resource.md). A revocation made in
    # another process is honoured here within this many seconds (each process
    # reads a revocation version at most this often: from REVOCATION_CACHE when
    # that cache is shared, else from the database).
    "REVOCATION_POLL_INTERVAL": 1.0,
    # Revocation requests that no confidential client authenticated (a bare
    # access token, or a public client's client_id) accepted per address inside
    # the window; past it 429 temporarily_unavailable with Retry-After. 0: no limit.
    "UNAUTHENTICATED_REVOCATION_LIMIT": 30,
    "UNAUTHENTICATED_REVOCATION_WINDOW": 60,
    # Cache alias holding the revocation version; ignored when the cache is
    # per-process (locmem, dummy). None always reads the database.
    "REVOCATION_CACHE": "default",
    # Every call on a shared cache (the revocation version above, the throttle's
    # counters in the default cache) gives up after this many seconds, whatever
    # the cache's own socket timeouts; after a failure this process leaves that
    # cache alone for CACHE_RETRY_AFTER seconds (docs/reliability.md).
    "CACHE_TIMEOUT": 0.25,
    "CACHE_RETRY_AFTER": 5,
    # Verified tokens kept per process (LRU, each until its exp).
    "VERIFIED_TOKEN_CACHE_SIZE": 10_000,
    # Revoke a user's tokens when they log out of this site.
    "REVOKE_TOKENS_ON_LOGOUT": False,
    # A client whose allowed scopes include this one may introspect any token
    # (a resource server); other clients only their own tokens.
    "INTROSPECTION_SCOPE": "introspection",
    # Resource server identity (RFC 9728, docs/resource.md "Protected resource metadata"):
    # the https URL of this resource server, e.g. "https://api.example.com" or
    # "https://example.com/mcp". When set, bearer tokens whose ``aud`` does not
    # contain it are refused (RFC 9068 section 4), the metadata document is served
    # at /.well-known/oauth-protected-resource[/<path>], and every Bearer challenge
    # points to it (``resource_metadata=``). None: none of this (no metadata, the
    # usual audience check).
    "RESOURCE": None,
    # Issuers whose tokens this resource accepts, listed in its metadata.
    # None: [ISSUER].
    "RESOURCE_AUTHORIZATION_SERVERS": None,
    # Scopes listed in the metadata (``scopes_supported``). None: the keys of SCOPES.
    "RESOURCE_SCOPES": None,
    # Optional ``resource_name`` and ``resource_documentation`` (a URL) of the metadata.
    "RESOURCE_NAME": None,
    "RESOURCE_DOCUMENTATION": None,
    # Client ID metadata documents (docs/provider/client-authentication.md "Client ID metadata documents"): a
    # client_id that is an https URL is the address of the client's metadata,
    # fetched (safely, see FETCH_*) at the authorization endpoint. Off by default.
    "CLIENT_ID_METADATA_DOCUMENTS": False,
    # Hosts whose documents are accepted: "example.com" (that host) or
    # ".example.com" (its subdomains too). Empty: any host with a public address.
    "CLIENT_ID_METADATA_DOCUMENT_HOSTS": [],
    # Scopes such a client may be granted (of those its document asks for).
    # None: every scope in SCOPES.
    "CLIENT_ID_METADATA_DOCUMENT_SCOPES": None,
    # Remote mode (a service without the provider app): the provider's JWKS.
    "JWKS_URL": None,
    "JWKS_CACHE_TTL": 300,
    # An unknown kid refetches the JWKS at most this often (seconds); the same for
    # a client's jwks_uri (private_key_jwt), per URL.
    "JWKS_MIN_REFETCH_INTERVAL": 10,
    # Remote mode, optional: RFC 7662 introspection to honour revocations,
    # answers cached this many seconds; credentials of a confidential client.
    "INTROSPECTION_URL": None,
    "INTROSPECTION_CLIENT_ID": None,
    "INTROSPECTION_CLIENT_SECRET": None,
    "INTROSPECTION_CACHE_TTL": 5,
    # Timeout in seconds of the remote-mode HTTP calls.
    "REMOTE_TIMEOUT": 5,
    # Dotted path of ``callable(user, client, scopes) -> dict`` adding claims
    # to ID tokens (and userinfo).
    "ID_TOKEN_CLAIMS_HOOK": None,
    # Consent page template (override to restyle).
    "CONSENT_TEMPLATE": "oauth_tokens/consent.html",
    "ERROR_TEMPLATE": "oauth_tokens/authorize_error.html",
    # Leeway in seconds for exp / nbf / iat checks of JWTs.
    "JWT_LEEWAY": 30,
    # Longest access-token lifetime (exp - iat) a verifier accepts, plus
    # JWT_LEEWAY; a longer one (forged with a stolen key) is invalid_token.
    # None: with the provider installed, the longest it grants
    # (ACCESS_TOKEN_LIFETIME and every client's override); in remote mode
    # ACCESS_TOKEN_LIFETIME (set this to the provider's longest there).
    "MAX_TOKEN_LIFETIME": None,
    # Each process re-reads the signing-key table this often, so a deleted key
    # (a leaked one) stops verifying everywhere within it, cached tokens too.
    "SIGNING_KEY_RELOAD_INTERVAL": 60,
    # Anomaly detection (docs/monitoring.md). False: no usage history, counters,
    # refresh_failed or anomaly events at all.
    "ANOMALY_DETECTION": True,
    # A family rotating more than this many times within one access-token
    # lifetime is a frequent_refresh anomaly. 0: off.
    "ANOMALY_FREQUENT_REFRESH_LIMIT": 3,
    # A client refreshing more than this factor times its hourly median (over 7
    # days), and at least the floor in the last hour, is one too. Factor 0: off.
    "ANOMALY_CLIENT_RATE_FACTOR": 10,
    "ANOMALY_CLIENT_RATE_FLOOR": 100,
    # Refused refreshes (invalid_grant) inside the window: more than the limit
    # from one address or against one family, or more than the client limit in
    # one client's name, is a failed_refresh anomaly. 0: off.
    "ANOMALY_FAILED_REFRESH_LIMIT": 10,
    "ANOMALY_FAILED_REFRESH_CLIENT_LIMIT": 100,
    "ANOMALY_FAILED_REFRESH_WINDOW": 300,
    # Two located uses of a family further apart than this speed allows (km/h)
    # are impossible_travel (GeoIP with a city database). 0: off.
    "ANOMALY_MAX_TRAVEL_SPEED": 1000,
    # Per kind: "record" (event + token_anomaly signal), "revoke" (also revoke
    # the family), "revoke_and_reauthorize" (also send reauthorization_required),
    # or "off".
    "ANOMALY_FREQUENT_REFRESH_ACTION": "record",
    "ANOMALY_FAILED_REFRESH_ACTION": "record",
    "ANOMALY_NEW_LOCATION_ACTION": "record",
    "ANOMALY_IMPOSSIBLE_TRAVEL_ACTION": "record",
    # Consumer side: external providers, see docs/consumer.md. Per provider:
    # token_url, authorize_url, revoke_url, client_id, client_secret, scope,
    # auth_method (basic|post|none), body_format (form|json), refresh_leeway
    # (default 300 s), metadata_url (RFC 8414 / OIDC discovery), timeout, ...
    "PROVIDERS": {},
    # Consumer: where the connect callback redirects when no ``next`` was given
    # (a path, a URL or a URL name).
    "CONSUMER_REDIRECT_URL": "/",
    # Consumer: revoke a user's stored tokens at the provider when they log
    # out. False (default), True for every provider, or a list of names.
    "LOGOUT_REVOKE_PROVIDERS": False,
    # Consumer: install the logging filter that redacts bearer, refresh and
    # client secrets from log records (on by default).
    "CONSUMER_REDACT_LOGS": True,
    # Device authorization grant (RFC 8628; docs/provider/grants.md "Device authorization grant").
    # Off: /oauth/device_authorization and /oauth/device answer 404, the token
    # endpoint refuses the grant (unsupported_grant_type) and discovery omits it.
    "DEVICE_AUTHORIZATION_ENABLED": False,
    # How long a device code and its user code live, and the polling interval
    # the device is told (it grows by 5 s at each slow_down, for that code).
    "DEVICE_CODE_LIFETIME": 600,
    "DEVICE_CODE_INTERVAL": 5,
    # Wrong user codes typed on /oauth/device inside the window, per signed-in
    # user and per session, then per address, before every code typed there is
    # refused until the window passes (section 5.1: user codes are short). 0: no limit.
    "DEVICE_USER_CODE_FAILURE_LIMIT": 5,
    "DEVICE_USER_CODE_ADDRESS_FAILURE_LIMIT": 20,
    "DEVICE_USER_CODE_FAILURE_WINDOW": 300,
    # Device authorization requests accepted per address inside the window (each
    # makes a pending device code row); past it a 429. 0: no limit.
    "DEVICE_AUTHORIZATION_ADDRESS_LIMIT": 30,
    "DEVICE_AUTHORIZATION_WINDOW": 300,
    # Pushed authorization requests (RFC 9126; docs/provider/grants.md "Pushed
    # authorization requests"). Off: /oauth/par answers 404, a request_uri at /oauth/authorize
    # is refused and the metadata omits the endpoint.
    "PUSHED_AUTHORIZATION_REQUESTS_ENABLED": True,
    # How long a pushed request's request_uri may wait to reach the authorization
    # endpoint (expires_in). From its first arrival there, the user has
    # PUSHED_AUTHORIZATION_CONSENT_TIME to log in and decide; the decision spends it.
    "PUSHED_AUTHORIZATION_REQUEST_LIFETIME": 60,
    "PUSHED_AUTHORIZATION_CONSENT_TIME": 600,
    # Accept authorization requests only through PAR, for every client (RFC 9126
    # section 5); a client's own flag requires it for that client alone.
    "REQUIRE_PUSHED_AUTHORIZATION_REQUESTS": False,
    # OpenID Connect RP-Initiated Logout 1.0 (docs/provider/grants.md "RP-initiated logout"):
    # GET/POST /oauth/logout, the end_session_endpoint. Off (the default, as in
    # django-oauth-toolkit): a 404, and discovery omits it.
    "RP_INITIATED_LOGOUT_ENABLED": False,
    # Always ask the user to confirm. False: a valid id_token_hint naming the
    # signed-in user logs out without the prompt (the RP holds that user's ID token).
    "RP_INITIATED_LOGOUT_ALWAYS_PROMPT": False,
    # At such a logout, also revoke the user's tokens of the client that asked
    # (the id_token_hint's aud or client_id). REVOKE_TOKENS_ON_LOGOUT, when on,
    # revokes all of the user's tokens at any logout, this one included.
    "RP_INITIATED_LOGOUT_REVOKE_TOKENS": False,
    # Dynamic client registration (RFC 7591 / 7592; docs/provider/client-authentication.md
    # "Dynamic client registration"). Off: /oauth/register answers 404 and discovery has no registration_endpoint.
    "REGISTRATION_ENABLED": False,
    # Registration needs ``Authorization: Bearer <initial access token>``, a token made
    # with ``manage.py createregistrationtoken`` (only its digest is stored).
    "REGISTRATION_INITIAL_ACCESS_TOKEN_REQUIRED": False,
    # Registered clients start inactive until an admin approves them (action "Approve").
    "REGISTRATION_APPROVAL_REQUIRED": False,
    # token_endpoint_auth_method values a registering client may choose: "none" (public
    # clients, PKCE), "client_secret_basic", "client_secret_post", "client_secret_jwt",
    # "private_key_jwt" (confidential clients).
    "REGISTRATION_AUTH_METHODS": ["none"],
    # Grant types a registered client may have (the device code grant only while
    # DEVICE_AUTHORIZATION_ENABLED is on; client_credentials only for confidential ones).
    "REGISTRATION_GRANT_TYPES": ["authorization_code", "refresh_token"],
    # Scopes a registered client may have, and gets when it asks for none.
    # None: the keys of SCOPES (never INTROSPECTION_SCOPE).
    "REGISTRATION_SCOPES": None,
    # Allow private-use URI schemes (com.example.app:/cb) as redirect URIs of native
    # apps (RFC 8252 section 7.1). Off: https, or http on a loopback host only.
    "REGISTRATION_CUSTOM_SCHEMES": False,
    # Registration requests accepted per address inside the window; past it 429 with
    # Retry-After. Counted in the default cache (not counted while it is down). 0: no limit.
    "REGISTRATION_RATE_LIMIT": 10,
    "REGISTRATION_RATE_WINDOW": 3600,
    # JWT client authentication (RFC 7523; docs/provider/client-authentication.md "Client authentication with JWTs").
    # Longest a client assertion may live: its exp at most this far from now (and
    # from its iat), plus JWT_LEEWAY. Its jti is remembered that long.
    "CLIENT_ASSERTION_MAX_LIFETIME": 300,
    # Accept, besides the issuer identifier (draft-ietf-oauth-rfc7523bis), the
    # token endpoint's URL and the called endpoint's URL as an assertion's aud, as
    # RFC 7523 and OpenID Connect Core section 9 clients send. False: the issuer only.
    "CLIENT_ASSERTION_ENDPOINT_AUDIENCE": True,
    # JWT bearer grant (RFC 7523 section 2.1, identity assertion grants / ID-JAG;
    # docs/provider/grants.md "JWT bearer grant (RFC 7523) and identity assertions"). On when this
    # flag is and JWT_BEARER_ISSUERS names at least one issuer; off, the token
    # endpoint refuses the grant (unsupported_grant_type) and discovery omits it.
    "JWT_BEARER_ENABLED": False,
    # Trusted issuers: {"https://idp.example.com": {"jwks_uri": ... or "jwks": {...},
    # "audiences": [extra accepted aud values], "token_endpoint_audience": False,
    # "id_jag": False, "clients": [client ids allowed to present its assertions],
    # "user_lookup": "username" (sub) or "email" (the email claim)}}.
    "JWT_BEARER_ISSUERS": {},
    # Longest an assertion may live: its exp at most this far from now (and from
    # its iat), plus JWT_LEEWAY. Its jti is remembered that long.
    "JWT_BEARER_MAX_LIFETIME": 300,
    # Dotted path of (or a) ``callable(assertion, client) -> user | None`` mapping an
    # assertion's subject to a local user. None: see "user_lookup" above.
    "JWT_BEARER_USER_RESOLVER": None,
    # Also issue a refresh token (to a client with the refresh_token grant).
    "JWT_BEARER_REFRESH_TOKENS": False,
    # Outbound fetches of URLs that clients name (jwks_uri; docs/security.md "Outbound fetches":
    # https only, public addresses only, no redirects): total time, largest
    # body, and the bounds put on the documents' Cache-Control max-age.
    "FETCH_TIMEOUT": 5,
    "FETCH_MAX_BYTES": 64 * 1024,
    "FETCH_CACHE_MIN_AGE": 60,
    "FETCH_CACHE_MAX_AGE": 24 * 3600,
    # Development and tests only: let those fetches reach loopback addresses
    # (127.0.0.0/8, ::1, localhost), over http too. Never in production.
    "FETCH_ALLOW_LOOPBACK": False,
    # Token exchange (RFC 8693; docs/provider/grants.md "Token exchange (RFC 8693)"). Off: the token
    # endpoint refuses the grant (unsupported_grant_type) and discovery omits it.
    # A client also needs the grant in its grant types.
    "TOKEN_EXCHANGE_ENABLED": False,
    # Trusted external issuers whose JWTs may be subject or actor tokens: their
    # exact ``iss`` -> {"jwks_uri": https URL or "jwks": {"keys": [...]},
    # "audiences": [...] (default [ISSUER]), "scopes": [...] (the most their tokens
    # exchange for; default none), "user_claim": "email" (default) or a username claim}.
    "TOKEN_EXCHANGE_ISSUERS": {},
    # Dotted path of ``callable(claims, issuer) -> user or None``: the local user an
    # external subject token speaks for. None: by the issuer's user_claim (email or username).
    "TOKEN_EXCHANGE_USER_HOOK": None,
    # Provider metrics for Prometheus (docs/monitoring.md "Metrics (Prometheus)"; needs the
    # ``metrics`` extra). Off: nothing is counted and the metrics view is a 404.
    "METRICS_ENABLED": False,
    # Label the counters with the client's client_id. A deployment with very
    # many clients turns it off to keep the number of series small.
    "METRICS_CLIENT_LABEL": True,
    # Addresses (read as NUM_PROXIES says) that may read the metrics view; an
    # empty list lets any address through (then set METRICS_BEARER_TOKEN).
    "METRICS_ALLOWED_NETWORKS": ["127.0.0.0/8", "::1/128"],
    # When set, the metrics view also requires ``Authorization: Bearer <value>``.
    "METRICS_BEARER_TOKEN": None,
    # DPoP (RFC 9449; docs/provider/dpop.md "DPoP (RFC 9449)"). How old a proof may be (its iat),
    # plus JWT_LEEWAY; its jti is remembered that long, so a replay is refused.
    "DPOP_PROOF_MAX_AGE": 60,
    # Require a server nonce in every DPoP proof sent to the token endpoint
    # (use_dpop_nonce with a DPoP-Nonce header first), and on requests to this
    # project's DPoP-protected APIs (resource side).
    "DPOP_NONCE_REQUIRED": False,
    "DPOP_RESOURCE_NONCE_REQUIRED": False,
    # A server nonce is an HMAC of a time window this long (under the digest key,
    # so every process accepts it); it is good in its window and the next.
    "DPOP_NONCE_LIFETIME": 300,
}


#: Settings earlier versions had, accepted and ignored so that an upgrade does not
#: fail to start (a system check warns): name -> why it went.
RETIRED = {
    "PREPARED_STATEMENTS": "the token endpoint no longer prepares its statements itself "
                           "(that rested on Django internals, which changed in Django 6.0)",
}


#: Settings that are durations in seconds: a number or a ``timedelta``; True
#: where zero makes no sense (the value must be > 0), False where 0 is allowed.
DURATIONS: dict[str, bool] = {
    "ACCESS_TOKEN_LIFETIME": True,
    "REFRESH_TOKEN_LIFETIME": True,
    "REFRESH_TOKEN_FAMILY_LIFETIME": True,
    "AUTHORIZATION_CODE_LIFETIME": True,
    "ID_TOKEN_LIFETIME": True,
    "REFRESH_TOKEN_GRACE_PERIOD": False,
    "REFRESH_TOKEN_GRACE_PERIOD_PUBLIC": False,
    "CLIENT_AUTH_FAILURE_WINDOW": True,
    "UNAUTHENTICATED_REVOCATION_WINDOW": True,
    "ANOMALY_FAILED_REFRESH_WINDOW": True,
    "REVOCATION_POLL_INTERVAL": False,
    "CACHE_TIMEOUT": True,
    "CACHE_RETRY_AFTER": False,
    "JWKS_CACHE_TTL": False,
    "JWKS_MIN_REFETCH_INTERVAL": False,
    "INTROSPECTION_CACHE_TTL": False,
    "REMOTE_TIMEOUT": True,
    "JWT_LEEWAY": False,
    "MAX_TOKEN_LIFETIME": True,
    "SIGNING_KEY_RELOAD_INTERVAL": True,
    "DEVICE_CODE_LIFETIME": True,
    "DEVICE_USER_CODE_FAILURE_WINDOW": True,
    "DEVICE_AUTHORIZATION_WINDOW": True,
    "PUSHED_AUTHORIZATION_REQUEST_LIFETIME": True,
    "PUSHED_AUTHORIZATION_CONSENT_TIME": True,
    "REGISTRATION_RATE_WINDOW": True,
    "CLIENT_ASSERTION_MAX_LIFETIME": True,
    "JWT_BEARER_MAX_LIFETIME": True,
    "FETCH_TIMEOUT": True,
    "FETCH_CACHE_MIN_AGE": False,
    "FETCH_CACHE_MAX_AGE": False,
    "DPOP_PROOF_MAX_AGE": True,
    "DPOP_NONCE_LIFETIME": True,
}
#: Durations that may also be None (each says what None means).
OPTIONAL_DURATIONS = {"MAX_TOKEN_LIFETIME"}
#: Settings that are whole numbers (True: must be > 0, False: >= 0).
COUNTS: dict[str, bool] = {
    "REFRESH_TOKEN_GRACE_REPLAYS": False,
    "CLIENT_AUTH_FAILURE_LIMIT": False,
    "CLIENT_AUTH_ADDRESS_FAILURE_LIMIT": False,
    "UNAUTHENTICATED_REVOCATION_LIMIT": False,
    "NUM_PROXIES": False,
    "MAX_BODY_SIZE": True,
    "VERIFIED_TOKEN_CACHE_SIZE": False,
    "DEVICE_CODE_INTERVAL": True,
    "DEVICE_USER_CODE_FAILURE_LIMIT": False,
    "DEVICE_USER_CODE_ADDRESS_FAILURE_LIMIT": False,
    "DEVICE_AUTHORIZATION_ADDRESS_LIMIT": False,
    "REGISTRATION_RATE_LIMIT": False,
    "ANOMALY_FREQUENT_REFRESH_LIMIT": False,
    "ANOMALY_CLIENT_RATE_FLOOR": False,
    "ANOMALY_FAILED_REFRESH_LIMIT": False,
    "ANOMALY_FAILED_REFRESH_CLIENT_LIMIT": False,
    "FETCH_MAX_BYTES": True,
}
#: Settings that are numbers >= 0, not necessarily whole.
NUMBERS = ("ANOMALY_CLIENT_RATE_FACTOR", "ANOMALY_MAX_TRAVEL_SPEED")
#: Settings that take one of a few values.
_ACTIONS = ("record", "revoke", "revoke_and_reauthorize", "off")
CHOICES: dict[str, tuple[Any, ...]] = {
    "ANOMALY_DETECTION": (True, False),
    "ANOMALY_FREQUENT_REFRESH_ACTION": _ACTIONS,
    "ANOMALY_FAILED_REFRESH_ACTION": _ACTIONS,
    "ANOMALY_NEW_LOCATION_ACTION": _ACTIONS,
    "ANOMALY_IMPOSSIBLE_TRAVEL_ACTION": _ACTIONS,
}

#: Settings that are True or False (a string such as "False" would read as on).
FLAGS = (
    "METRICS_ENABLED", "METRICS_CLIENT_LABEL", "DEVICE_AUTHORIZATION_ENABLED",
    "PUSHED_AUTHORIZATION_REQUESTS_ENABLED", "REQUIRE_PUSHED_AUTHORIZATION_REQUESTS",
    "RP_INITIATED_LOGOUT_ENABLED", "RP_INITIATED_LOGOUT_ALWAYS_PROMPT", "RP_INITIATED_LOGOUT_REVOKE_TOKENS",
    "REGISTRATION_ENABLED", "REGISTRATION_INITIAL_ACCESS_TOKEN_REQUIRED", "REGISTRATION_APPROVAL_REQUIRED",
    "REGISTRATION_CUSTOM_SCHEMES", "CLIENT_ASSERTION_ENDPOINT_AUDIENCE", "FETCH_ALLOW_LOOPBACK",
    "CLIENT_ID_METADATA_DOCUMENTS", "JWT_BEARER_ENABLED", "JWT_BEARER_REFRESH_TOKENS", "TOKEN_EXCHANGE_ENABLED",
    "DPOP_NONCE_REQUIRED", "DPOP_RESOURCE_NONCE_REQUIRED",
)
#: Settings that are None or a string / a list of strings.
OPTIONAL_STRINGS = ("RESOURCE_NAME", "RESOURCE_DOCUMENTATION", "TOKEN_EXCHANGE_USER_HOOK")
OPTIONAL_STRING_LISTS = ("RESOURCE_AUTHORIZATION_SERVERS", "RESOURCE_SCOPES", "REGISTRATION_SCOPES",
                         "CLIENT_ID_METADATA_DOCUMENT_HOSTS", "CLIENT_ID_METADATA_DOCUMENT_SCOPES")
#: Settings that are lists of some of a few values.
SUBSETS: dict[str, tuple[str, ...]] = {
    "REGISTRATION_AUTH_METHODS": tuple(registration.AUTH_METHODS),
    "REGISTRATION_GRANT_TYPES": (registration.AUTHORIZATION_CODE, registration.REFRESH_TOKEN,
                                 registration.CLIENT_CREDENTIALS, registration.DEVICE_CODE),
}
_LOOPBACK = ("localhost", "127.0.0.1", "::1")


def resource_problem(value: Any) -> str | None:
    """What is wrong with a ``RESOURCE`` value (RFC 9728 section 1.2: an https URL
    without a fragment; no query here either). http only for a loopback host, in
    development. None: nothing."""
    if value is None:
        return None
    try:
        parts = urlsplit(value) if isinstance(value, str) else None
        host = parts.hostname if parts else None
    except ValueError:
        parts = host = None
    if parts is None or not host or parts.query or parts.fragment or "#" in value or "?" in value:
        return f"OAUTH_TOKENS['RESOURCE'] must be an absolute https URL without query or fragment; got {value!r}."
    if parts.scheme != "https" and not (parts.scheme == "http" and host in _LOOPBACK):
        return f"OAUTH_TOKENS['RESOURCE'] must use https (http only for localhost); got {value!r}."
    return None


def to_seconds(value: Any, *, positive: bool = False) -> int | float:
    """``value`` (a number or a ``timedelta``) in seconds: an int when whole.
    ``ValueError`` for anything else (a string, a bool, None, NaN, a negative
    value, or zero when ``positive``)."""
    if isinstance(value, timedelta):
        value = value.total_seconds()
        value = int(value) if value.is_integer() else value
    elif isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("not a number")
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise ValueError("out of range")
    return value


def value_problems(user: dict[str, Any]) -> dict[str, str]:
    """Key -> what is wrong with its value, for the durations, counts, numbers,
    choices, strings and the resource identifier in ``user``."""
    problems = {}
    for key, positive in DURATIONS.items():
        if key in user and not (user[key] is None and key in OPTIONAL_DURATIONS):
            try:
                to_seconds(user[key], positive=positive)
            except ValueError:
                problems[key] = (
                    f"OAUTH_TOKENS[{key!r}] must be a number of seconds or a datetime.timedelta, "
                    f"{'> 0' if positive else '>= 0'}; got {user[key]!r}."
                )
    for key, positive in COUNTS.items():
        value = user.get(key)
        if key in user and (isinstance(value, bool) or not isinstance(value, int) or value < int(positive)):
            bound = "> 0" if positive else ">= 0"
            problems[key] = f"OAUTH_TOKENS[{key!r}] must be a whole number {bound}; got {value!r}."
    for key in FLAGS:
        if key in user and not isinstance(user[key], bool):
            problems[key] = f"OAUTH_TOKENS[{key!r}] must be True or False; got {user[key]!r}."
    for key in NUMBERS:
        value = user.get(key)
        if key in user and (isinstance(value, bool) or not isinstance(value, int | float)
                            or not math.isfinite(value) or value < 0):
            problems[key] = f"OAUTH_TOKENS[{key!r}] must be a number >= 0; got {value!r}."
    for key, allowed in CHOICES.items():
        if key in user and not any(type(user[key]) is type(a) and user[key] == a for a in allowed):
            problems[key] = f"OAUTH_TOKENS[{key!r}] must be one of {', '.join(map(repr, allowed))}; got {user[key]!r}."
    for key in OPTIONAL_STRINGS:
        if user.get(key) is not None and not isinstance(user[key], str):
            problems[key] = f"OAUTH_TOKENS[{key!r}] must be a string or None; got {user[key]!r}."
    for key in OPTIONAL_STRING_LISTS:
        value = user.get(key)
        if value is not None and not (isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)):
            problems[key] = f"OAUTH_TOKENS[{key!r}] must be a list of strings or None; got {value!r}."
    for key, allowed in SUBSETS.items():
        value = user.get(key)
        if key in user and not (isinstance(value, list | tuple) and value and all(v in allowed for v in value)):
            problems[key] = (f"OAUTH_TOKENS[{key!r}] must be a non-empty list of some of "
                             f"{', '.join(map(repr, allowed))}; got {value!r}.")
    resource = resource_problem(user.get("RESOURCE"))
    if resource:
        problems["RESOURCE"] = resource
    issuers = jwt_bearer.issuers_problem(user.get("JWT_BEARER_ISSUERS", {}))
    if issuers:
        problems["JWT_BEARER_ISSUERS"] = issuers
    listed = resources_problem(user.get("RESOURCES", []))
    if listed:
        problems["RESOURCES"] = listed
    issuers = token_exchange.issuers_problem(user.get("TOKEN_EXCHANGE_ISSUERS", {}))
    if issuers:
        problems["TOKEN_EXCHANGE_ISSUERS"] = f"OAUTH_TOKENS['TOKEN_EXCHANGE_ISSUERS'] {issuers}."
    return problems


def resources_problem(value: Any) -> str | None:
    """What is wrong with a ``RESOURCES`` value (a list of absolute URIs without a
    fragment, RFC 8707 section 2), or None."""
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        return f"OAUTH_TOKENS['RESOURCES'] must be a list of absolute URIs; got {value!r}."
    for uri in value:
        wrong = resource_indicators.problem(uri)
        if wrong is not None:
            return f"OAUTH_TOKENS['RESOURCES']: each resource {wrong}; got {uri!r}."
    return None


class InvalidSettingValues(ImproperlyConfigured):
    """Durations or counts of the wrong type or range (``problems``: key -> sentence)."""

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = problems
        super().__init__(" ".join(problems.values()))


class TokenSettings:
    """Attribute access to ``OAUTH_TOKENS`` with defaults, validated on first use."""

    def __init__(self) -> None:
        self._cache: dict[str, Any] | None = None

    def _load(self) -> dict[str, Any]:
        user = getattr(settings, "OAUTH_TOKENS", {}) or {}
        if not isinstance(user, dict):
            raise ImproperlyConfigured("OAUTH_TOKENS must be a dict.")
        unknown = sorted(set(user) - set(DEFAULTS) - set(RETIRED))
        if unknown:
            raise ImproperlyConfigured(
                f"Unknown OAUTH_TOKENS setting(s): {', '.join(unknown)}. "
                f"Known: {', '.join(sorted(DEFAULTS))}."
            )
        problems = value_problems(user)
        if problems:
            raise InvalidSettingValues(problems)
        merged = {**DEFAULTS, **{k: v for k, v in user.items() if k not in RETIRED}}
        for key, positive in DURATIONS.items():
            if not (merged[key] is None and key in OPTIONAL_DURATIONS):
                merged[key] = to_seconds(merged[key], positive=positive)
        return merged

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in DEFAULTS:
            raise AttributeError(f"No OAUTH_TOKENS setting named {name!r}.")
        if self._cache is None:
            self._cache = self._load()
        return self._cache[name]

    @property
    def issuer(self) -> str:
        issuer = self.ISSUER
        if not issuer:
            raise ImproperlyConfigured('Set OAUTH_TOKENS["ISSUER"], e.g. "https://auth.example.com".')
        return str(issuer).rstrip("/")

    @property
    def audience(self) -> str:
        return str(self.AUDIENCE or self.RESOURCE or self.issuer)

    def reload(self) -> None:
        self._cache = None


token_settings = TokenSettings()


@process_caches.resets_on("OAUTH_TOKENS")
def _reload() -> None:
    token_settings.reload()


@checks.register(checks.Tags.security)
def check_setting_values(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """``oauth_tokens.E005``: a duration, count, number, flag or choice of the wrong type
    or range, one error per key. Registered here, once, for the provider, the consumer and the
    resource side alike (they all read these settings)."""
    user = getattr(settings, "OAUTH_TOKENS", {}) or {}
    if not isinstance(user, dict):
        return []  # the provider's and consumer's E000 say so
    return [
        checks.Error(
            message,
            hint=f'For example "{key}": timedelta(minutes=5) or 300.' if key in DURATIONS else None,
            id="oauth_tokens.E005",
        )
        for key, message in value_problems(user).items()
    ]
