"""System checks of the provider's settings, ids ``oauth_tokens.E00x`` / ``W00x``.

- E000 ``OAUTH_TOKENS`` is not a dict or has unknown keys
- E001 ``ISSUER`` is missing
- E002 ``SIGNING_ALGORITHM`` is not supported
- E003 ``ISSUER`` is not an absolute URL without query or fragment (RFC 8414 section 2)
- E004 an ``ENCRYPTION_KEYS`` entry is not a Fernet key
- E005 a duration (``*_LIFETIME``, ``*_INTERVAL``, ``*_TTL``, ...) is not a number
  of seconds or a ``timedelta``, or a count is not a whole number, or either is
  out of range, or a flag (``METRICS_ENABLED``...) is not True or False, or an
  anomaly action is not one of its choices; one error per key (registered in
  ``oauth_tokens.settings``)
- E006 ``REQUIRE_PUSHED_AUTHORIZATION_REQUESTS`` on while
  ``PUSHED_AUTHORIZATION_REQUESTS_ENABLED`` is off (RFC 9126)
- E030, E031, E032, W030 the metrics: ``prometheus_client`` missing, a
  malformed ``METRICS_*`` value, ``PROMETHEUS_MULTIPROC_DIR`` not a directory,
  the metrics view open to any address without a token (registered in
  ``oauth_tokens.provider.metrics_endpoint``)
- E060 ``TOKEN_EXCHANGE_USER_HOOK`` cannot be imported (registered in
  ``oauth_tokens.provider.token_exchange``)
- W001 ``ISSUER`` is not https (outside DEBUG)
- W002 ``ENCRYPTION_KEYS`` left to the SECRET_KEY-derived default (outside DEBUG)
- W003 ``DIGEST_KEY`` left to the SECRET_KEY-derived default (outside DEBUG)
- W004 ``FETCH_ALLOW_LOOPBACK`` is on outside DEBUG: clients' ``jwks_uri`` may
  point this server at its own loopback services
- W010 a retired setting (``PREPARED_STATEMENTS``) is still set; it is ignored
- W020 ``MAX_TOKEN_LIFETIME`` is below ``ACCESS_TOKEN_LIFETIME``: this provider's
  own tokens would be refused by its verifier
- W040 ``GEOIP_PATH`` is set but its database cannot be used (``geoip2`` not
  installed, no such file, an unsupported edition): geographic anomalies fall
  back to networks
- W050 dynamic registration is open (no initial access token, no approval) and
  lets anyone register a confidential client (``REGISTRATION_AUTH_METHODS``)
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from oauth_tokens.oauth2.jwt import ALGORITHMS
from oauth_tokens.settings import InvalidSettingValues, token_settings


@checks.register(checks.Tags.security)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    try:
        issuer = token_settings.ISSUER
        algorithm = token_settings.SIGNING_ALGORITHM
        keys = token_settings.ENCRYPTION_KEYS
        digest_key = token_settings.DIGEST_KEY
    except InvalidSettingValues:
        return []  # oauth_tokens.E005 names each key (settings.check_setting_values)
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="oauth_tokens.E000")]
    if not issuer:
        errors.append(checks.Error(
            'OAUTH_TOKENS["ISSUER"] is not set.',
            hint='Set it to this server\'s public base URL, e.g. "https://auth.example.com". '
            "It becomes the iss of every token.",
            id="oauth_tokens.E001",
        ))
    else:
        errors += _check_issuer(str(issuer))
    if algorithm not in ALGORITHMS:
        errors.append(checks.Error(
            f"OAUTH_TOKENS['SIGNING_ALGORITHM'] must be one of {', '.join(ALGORITHMS)}.",
            id="oauth_tokens.E002",
        ))
    errors += _check_encryption_keys(keys)
    longest = token_settings.MAX_TOKEN_LIFETIME
    if longest is not None and longest < token_settings.ACCESS_TOKEN_LIFETIME:
        errors.append(checks.Warning(
            f"OAUTH_TOKENS['MAX_TOKEN_LIFETIME'] ({longest:g} s) is below ACCESS_TOKEN_LIFETIME "
            f"({token_settings.ACCESS_TOKEN_LIFETIME:g} s): the tokens this provider issues would be refused.",
            hint="Leave MAX_TOKEN_LIFETIME unset (the longest lifetime this provider grants) or raise it.",
            id="oauth_tokens.W020",
        ))
    par_on = token_settings.PUSHED_AUTHORIZATION_REQUESTS_ENABLED
    if token_settings.REQUIRE_PUSHED_AUTHORIZATION_REQUESTS and not par_on:
        errors.append(checks.Error(
            "OAUTH_TOKENS['REQUIRE_PUSHED_AUTHORIZATION_REQUESTS'] is on while "
            "PUSHED_AUTHORIZATION_REQUESTS_ENABLED is off: every authorization request would be refused.",
            hint="Enable pushed authorization requests or stop requiring them.",
            id="oauth_tokens.E006",
        ))
    if not settings.DEBUG and not keys:
        errors.append(checks.Warning(
            "OAUTH_TOKENS['ENCRYPTION_KEYS'] is empty: keys at rest are encrypted with a key derived from SECRET_KEY.",
            hint="Generate one with: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())' and keep SECRET_KEY rotations independent.",
            id="oauth_tokens.W002",
        ))
    if not settings.DEBUG and token_settings.FETCH_ALLOW_LOOPBACK:
        errors.append(checks.Warning(
            "OAUTH_TOKENS['FETCH_ALLOW_LOOPBACK'] is on: URLs that clients register (jwks_uri) may reach "
            "services on this machine's loopback addresses, over plain http.",
            hint="Turn it off outside development and tests.",
            id="oauth_tokens.W004",
        ))
    if not settings.DEBUG and not digest_key:
        errors.append(checks.Warning(
            "OAUTH_TOKENS['DIGEST_KEY'] is empty: token digests use a key derived from SECRET_KEY.",
            hint="Set a DIGEST_KEY so that rotating SECRET_KEY never invalidates client secrets and tokens "
            "(or keep the old SECRET_KEY in SECRET_KEY_FALLBACKS).",
            id="oauth_tokens.W003",
        ))
    return errors


def _check_issuer(issuer: str) -> list[checks.CheckMessage]:
    try:
        parts = urlsplit(issuer)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment \
            or "?" in issuer or "#" in issuer:
        return [checks.Error(
            f"OAUTH_TOKENS['ISSUER'] ({issuer}) must be an absolute http(s) URL without query or fragment.",
            hint="RFC 8414 section 2; for example https://auth.example.com",
            id="oauth_tokens.E003",
        )]
    if parts.scheme != "https" and not settings.DEBUG:
        return [checks.Warning(
            f"OAUTH_TOKENS['ISSUER'] ({issuer}) is not https.",
            hint="RFC 8414 requires an https issuer in production.",
            id="oauth_tokens.W001",
        )]
    return []


def _check_encryption_keys(keys) -> list[checks.CheckMessage]:
    if isinstance(keys, (str, bytes)):
        return [checks.Error(
            "OAUTH_TOKENS['ENCRYPTION_KEYS'] must be a list of keys, not a single string.",
            id="oauth_tokens.E004",
        )]
    for position, key in enumerate(keys or ()):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            return [checks.Error(
                f"OAUTH_TOKENS['ENCRYPTION_KEYS'][{position}] is not a Fernet key.",
                hint="A Fernet key is 32 url-safe base64-encoded bytes: Fernet.generate_key().",
                id="oauth_tokens.E004",
            )]
    return []


@checks.register()
def check_retired_settings(app_configs=None, **kwargs):
    """W010: a setting earlier versions had, now ignored."""
    from oauth_tokens.settings import RETIRED

    configured = getattr(settings, "OAUTH_TOKENS", None)
    if not isinstance(configured, dict):
        return []
    return [
        checks.Warning(f"OAUTH_TOKENS[{name!r}] no longer has an effect: {why}.",
                       hint="Remove it from OAUTH_TOKENS.", id="oauth_tokens.W010")
        for name, why in RETIRED.items() if name in configured
    ]


@checks.register()
def check_geoip(app_configs=None, **kwargs):
    """W040: a GeoIP database is configured but cannot be used."""
    from oauth_tokens.provider import geo

    problem = geo.problem()
    if problem is None:
        return []
    return [checks.Warning(
        f"GEOIP_PATH is set but its GeoIP database cannot be used ({problem}): geographic anomalies fall back "
        "to networks (/16, /48) instead of countries and coordinates.",
        hint='Install the "geoip" extra (the geoip2 package) and point GEOIP_PATH at a MaxMind City or Country '
             "database (.mmdb).",
        id="oauth_tokens.W040",
    )]


@checks.register(checks.Tags.security)
def check_open_registration(app_configs=None, **kwargs):
    """W050: anyone may register a confidential client (RFC 7591 section 5 asks for care)."""
    configured = getattr(settings, "OAUTH_TOKENS", None)
    if not isinstance(configured, dict):
        return []
    try:
        on = token_settings.REGISTRATION_ENABLED
        gated = (token_settings.REGISTRATION_INITIAL_ACCESS_TOKEN_REQUIRED
                 or token_settings.REGISTRATION_APPROVAL_REQUIRED)
        methods = token_settings.REGISTRATION_AUTH_METHODS
    except ImproperlyConfigured:
        return []  # E000 / E005 say what is wrong
    if not on or gated or list(methods) == ["none"]:
        return []
    return [checks.Warning(
        "Dynamic client registration is open to anyone and allows confidential clients "
        f"(REGISTRATION_AUTH_METHODS = {list(methods)!r}).",
        hint='Keep open registration to public clients (["none"]), or set REGISTRATION_INITIAL_ACCESS_TOKEN_REQUIRED '
             "or REGISTRATION_APPROVAL_REQUIRED.",
        id="oauth_tokens.W050",
    )]
