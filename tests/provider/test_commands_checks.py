"""System checks (``manage.py check``): oauth_tokens.E00x / W00x."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from oauth_tokens.provider.checks import check_settings

GOOD_KEY = "ZmDfcTF7_60GrrY167zsiPd67pEvs0aGOv2oasOM1Pg="
PRODUCTION = {"ISSUER": "https://auth.example.test", "ENCRYPTION_KEYS": [GOOD_KEY], "DIGEST_KEY": "k"}


def ids(**oauth) -> set[str]:
    with override_settings(OAUTH_TOKENS=oauth):
        return {m.id for m in check_settings()}


def test_production_settings_are_clean():
    assert ids(**PRODUCTION) == set()


def test_missing_issuer_is_e001():
    assert "oauth_tokens.E001" in ids(**{**PRODUCTION, "ISSUER": None})
    assert "oauth_tokens.E001" in ids(ENCRYPTION_KEYS=[GOOD_KEY], DIGEST_KEY="k")


def test_missing_issuer_stops_manage_py_check():
    with override_settings(OAUTH_TOKENS={**PRODUCTION, "ISSUER": ""}):
        with pytest.raises(SystemCheckError, match="oauth_tokens.E001"):
            call_command("check", stdout=StringIO(), stderr=StringIO())


def test_production_settings_pass_manage_py_check():
    with override_settings(OAUTH_TOKENS=PRODUCTION):
        out, err = StringIO(), StringIO()
        call_command("check", stdout=out, stderr=err)
        assert "oauth_tokens." not in out.getvalue() + err.getvalue()


@pytest.mark.parametrize("debug", [False, True])
def test_http_issuer_warns_outside_debug(debug):
    with override_settings(DEBUG=debug):
        found = ids(**{**PRODUCTION, "ISSUER": "http://auth.example.test"})
    assert ("oauth_tokens.W001" in found) is not debug


@pytest.mark.parametrize("issuer", ["auth.example.test", "https://auth.example.test?x=1",
                                    "https://auth.example.test/#f", "ftp://auth.example.test", "https://"])
def test_malformed_issuer_is_e003(issuer):
    assert "oauth_tokens.E003" in ids(**{**PRODUCTION, "ISSUER": issuer})


@pytest.mark.parametrize("debug", [False, True])
def test_derived_encryption_key_warns_outside_debug(debug):
    with override_settings(DEBUG=debug):
        found = ids(**{**PRODUCTION, "ENCRYPTION_KEYS": []})
    assert ("oauth_tokens.W002" in found) is not debug


@pytest.mark.parametrize("debug", [False, True])
def test_derived_digest_key_warns_outside_debug(debug):
    with override_settings(DEBUG=debug):
        found = ids(**{**PRODUCTION, "DIGEST_KEY": None})
    assert ("oauth_tokens.W003" in found) is not debug


@pytest.mark.parametrize("debug", [False, True])
def test_loopback_fetches_warn_outside_debug(debug):
    with override_settings(DEBUG=debug):
        assert ("oauth_tokens.W004" in ids(**{**PRODUCTION, "FETCH_ALLOW_LOOPBACK": True})) is not debug
        assert "oauth_tokens.W004" not in ids(**PRODUCTION)


@pytest.mark.parametrize("keys", [["not-a-fernet-key"], [GOOD_KEY, "short"], GOOD_KEY])
def test_bad_encryption_key_is_e004_and_not_echoed(keys):
    with override_settings(OAUTH_TOKENS={**PRODUCTION, "ENCRYPTION_KEYS": keys}):
        messages = [m for m in check_settings() if m.id == "oauth_tokens.E004"]
    assert len(messages) == 1
    assert "not-a-fernet-key" not in str(messages[0]) and "short" not in messages[0].msg


def test_unknown_algorithm_is_e002():
    assert "oauth_tokens.E002" in ids(**{**PRODUCTION, "SIGNING_ALGORITHM": "HS256"})


def test_unknown_setting_is_e000():
    assert ids(**{**PRODUCTION, "ISSUR": "typo"}) == {"oauth_tokens.E000"}


def test_a_retired_setting_starts_with_a_warning_and_is_ignored():
    """An upgrade keeping PREPARED_STATEMENTS in its settings still starts (no
    ImproperlyConfigured for an unknown key), and manage.py check says to remove it."""
    from oauth_tokens.settings import token_settings

    with override_settings(OAUTH_TOKENS={**PRODUCTION, "PREPARED_STATEMENTS": False}):
        out, err = StringIO(), StringIO()
        call_command("check", stdout=out, stderr=err)
        assert "oauth_tokens.W010" in out.getvalue() + err.getvalue()
        assert "PREPARED_STATEMENTS" in out.getvalue() + err.getvalue()
        assert token_settings.ISSUER == PRODUCTION["ISSUER"]
