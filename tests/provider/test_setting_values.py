"""Durations written as ``timedelta`` (the simplejwt way) work everywhere seconds
do; any other wrong value is the system-check error oauth_tokens.E005 naming the
key, never a 500 at the first request."""

from datetime import timedelta
from io import StringIO

import jwt
import pytest
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from oauth_tokens.provider.models import RefreshToken
from oauth_tokens.settings import check_setting_values, token_settings

GOOD_KEY = "ZmDfcTF7_60GrrY167zsiPd67pEvs0aGOv2oasOM1Pg="
PRODUCTION = {"ISSUER": "https://auth.example.test", "ENCRYPTION_KEYS": [GOOD_KEY], "DIGEST_KEY": "k"}


def claims(token):
    return jwt.decode(token, options={"verify_signature": False})


@pytest.mark.django_db
def test_timedelta_lifetimes_reach_the_token_endpoint(flow, settings):
    settings.OAUTH_TOKENS = {
        **settings.OAUTH_TOKENS,
        "ACCESS_TOKEN_LIFETIME": timedelta(minutes=5),
        "REFRESH_TOKEN_LIFETIME": timedelta(days=2),
        "AUTHORIZATION_CODE_LIFETIME": timedelta(seconds=90),
        "ID_TOKEN_LIFETIME": timedelta(minutes=10),
        "REFRESH_TOKEN_GRACE_PERIOD": timedelta(seconds=10),
        "JWT_LEEWAY": timedelta(seconds=30),
        "REVOCATION_POLL_INTERVAL": timedelta(milliseconds=500),
        "CLIENT_AUTH_FAILURE_WINDOW": timedelta(minutes=1),
        "UNAUTHENTICATED_REVOCATION_WINDOW": timedelta(minutes=2),
    }
    issued = flow.token({"grant_type": "client_credentials"})
    assert issued.status_code == 200, issued.content
    assert issued.json()["expires_in"] == 300
    access = claims(issued.json()["access_token"])
    assert access["exp"] - access["iat"] == 300
    # The validation endpoint and a protected view accept it (verifier leeway, revocation poll).
    valid = flow.http.get("/oauth/token", HTTP_AUTHORIZATION=f"Bearer {issued.json()['access_token']}")
    assert valid.status_code == 200 and 0 < valid.json()["expires_in"] <= 300

    tokens = flow.code_tokens(scope="read openid")
    assert tokens["expires_in"] == 300
    id_token = claims(tokens["id_token"])
    assert id_token["exp"] - id_token["iat"] == 600
    row = RefreshToken.objects.get()
    assert abs((row.expires_at - row.created_at) - timedelta(days=2)) < timedelta(seconds=1)
    first = flow.refresh(tokens["refresh_token"])
    again = flow.refresh(tokens["refresh_token"])  # inside the 10 s grace window: the same pair
    assert first.status_code == again.status_code == 200
    assert first.json()["refresh_token"] == again.json()["refresh_token"]


def test_timedeltas_become_seconds_and_pass_the_checks():
    with override_settings(OAUTH_TOKENS={**PRODUCTION, "ACCESS_TOKEN_LIFETIME": timedelta(hours=1),
                                         "REVOCATION_POLL_INTERVAL": timedelta(milliseconds=250)}):
        assert token_settings.ACCESS_TOKEN_LIFETIME == 3600 and isinstance(token_settings.ACCESS_TOKEN_LIFETIME, int)
        assert token_settings.REVOCATION_POLL_INTERVAL == 0.25
        assert check_setting_values() == []
        call_command("check", stdout=StringIO(), stderr=StringIO())


@pytest.mark.parametrize(("key", "value"), [
    ("ACCESS_TOKEN_LIFETIME", "1h"),
    ("ACCESS_TOKEN_LIFETIME", "3600"),
    ("ACCESS_TOKEN_LIFETIME", True),
    ("ACCESS_TOKEN_LIFETIME", None),
    ("ACCESS_TOKEN_LIFETIME", 0),
    ("REFRESH_TOKEN_LIFETIME", -1),
    ("ID_TOKEN_LIFETIME", timedelta(seconds=-5)),
    ("AUTHORIZATION_CODE_LIFETIME", float("nan")),
    ("REFRESH_TOKEN_GRACE_PERIOD", "10s"),
    ("REVOCATION_POLL_INTERVAL", [1]),
    ("JWT_LEEWAY", float("inf")),
    ("REMOTE_TIMEOUT", timedelta(0)),
    ("NUM_PROXIES", "1"),
    ("MAX_BODY_SIZE", 0),
    ("VERIFIED_TOKEN_CACHE_SIZE", 1.5),
    ("CLIENT_AUTH_FAILURE_LIMIT", False),
    ("MAX_TOKEN_LIFETIME", "6h"),
    ("MAX_TOKEN_LIFETIME", 0),
    ("SIGNING_KEY_RELOAD_INTERVAL", 0),
    ("SIGNING_KEY_RELOAD_INTERVAL", None),
    ("CLIENT_AUTH_ADDRESS_FAILURE_LIMIT", -1),
    ("UNAUTHENTICATED_REVOCATION_LIMIT", "30"),
    ("UNAUTHENTICATED_REVOCATION_WINDOW", 0),
    ("ANOMALY_DETECTION", "yes"),
    ("ANOMALY_DETECTION", 1),
    ("ANOMALY_FREQUENT_REFRESH_ACTION", "block"),
    ("ANOMALY_NEW_LOCATION_ACTION", None),
    ("ANOMALY_FREQUENT_REFRESH_LIMIT", 2.5),
    ("ANOMALY_CLIENT_RATE_FACTOR", True),
    ("ANOMALY_MAX_TRAVEL_SPEED", "900 km/h"),
    ("ANOMALY_MAX_TRAVEL_SPEED", -1),
    ("ANOMALY_FAILED_REFRESH_WINDOW", 0),
    ("CLIENT_ASSERTION_MAX_LIFETIME", 0),
    ("CLIENT_ASSERTION_ENDPOINT_AUDIENCE", "False"),
    ("FETCH_ALLOW_LOOPBACK", 1),
    ("FETCH_TIMEOUT", "5s"),
    ("FETCH_MAX_BYTES", 0),
    ("FETCH_CACHE_MAX_AGE", -1),
])
def test_a_wrong_value_is_a_check_error_naming_the_key(key, value):
    with override_settings(OAUTH_TOKENS={**PRODUCTION, key: value}):
        errors = check_setting_values()
        assert [e.id for e in errors] == ["oauth_tokens.E005"] and errors[0].level == checks.ERROR
        assert f"OAUTH_TOKENS['{key}']" in errors[0].msg and repr(value) in errors[0].msg
        # manage.py check (and so runserver and migrate) stops on it, once, not also as E000.
        with pytest.raises(SystemCheckError) as stopped:
            call_command("check", stdout=StringIO(), stderr=StringIO())
        report = str(stopped.value)
        assert report.count(f"OAUTH_TOKENS['{key}']") == 1 and "E000" not in report
        # Read anyway (a server started without checks): a clear error naming the key, not a TypeError.
        with pytest.raises(ImproperlyConfigured, match=key):
            token_settings.ISSUER


def test_every_wrong_key_is_reported():
    with override_settings(OAUTH_TOKENS={**PRODUCTION, "ACCESS_TOKEN_LIFETIME": "1h", "JWKS_CACHE_TTL": "5m"}):
        messages = [e.msg for e in check_setting_values()]
    assert len(messages) == 2
    assert any("'ACCESS_TOKEN_LIFETIME'" in m for m in messages) and any("'JWKS_CACHE_TTL'" in m for m in messages)


def test_max_token_lifetime_may_be_none_or_a_duration_and_warns_below_the_access_lifetime():
    with override_settings(OAUTH_TOKENS={**PRODUCTION, "MAX_TOKEN_LIFETIME": None,
                                         "SIGNING_KEY_RELOAD_INTERVAL": timedelta(seconds=30)}):
        assert token_settings.MAX_TOKEN_LIFETIME is None and token_settings.SIGNING_KEY_RELOAD_INTERVAL == 30
        assert check_setting_values() == []
    with override_settings(OAUTH_TOKENS={**PRODUCTION, "MAX_TOKEN_LIFETIME": timedelta(hours=6)}):
        assert token_settings.MAX_TOKEN_LIFETIME == 6 * 3600
        call_command("check", stdout=StringIO(), stderr=StringIO())
    with override_settings(OAUTH_TOKENS={**PRODUCTION, "MAX_TOKEN_LIFETIME": 600}):
        from oauth_tokens.provider.checks import check_settings

        assert [w.id for w in check_settings()] == ["oauth_tokens.W020"]


def test_anomaly_settings_take_timedeltas_fractions_and_their_choices():
    with override_settings(OAUTH_TOKENS={**PRODUCTION, "ANOMALY_FAILED_REFRESH_WINDOW": timedelta(minutes=10),
                                         "ANOMALY_CLIENT_RATE_FACTOR": 2.5, "ANOMALY_MAX_TRAVEL_SPEED": 0,
                                         "ANOMALY_DETECTION": False, "ANOMALY_FAILED_REFRESH_ACTION": "revoke",
                                         "ANOMALY_IMPOSSIBLE_TRAVEL_ACTION": "revoke_and_reauthorize",
                                         "ANOMALY_NEW_LOCATION_ACTION": "off"}):
        assert check_setting_values() == []
        assert token_settings.ANOMALY_FAILED_REFRESH_WINDOW == 600
        assert token_settings.ANOMALY_CLIENT_RATE_FACTOR == 2.5
