from datetime import timedelta

import pytest
from django.core import checks

from oauth_tokens.consumer.checks import check_consumer


def ids(settings_errors):
    return [e.id for e in settings_errors]


def test_production_without_encryption_keys_is_an_error(settings):
    settings.DEBUG = False
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "ENCRYPTION_KEYS": []}
    errors = check_consumer()
    assert ids(errors) == ["oauth_tokens_consumer.E001"] and errors[0].level == checks.ERROR


def test_debug_without_keys_is_fine(settings):
    settings.DEBUG = True
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "ENCRYPTION_KEYS": []}
    assert check_consumer() == []


def test_the_check_runs_with_the_framework(settings):
    settings.DEBUG = False
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "ENCRYPTION_KEYS": []}
    assert "oauth_tokens_consumer.E001" in ids(checks.run_checks(tags=[checks.Tags.security]))


def test_bad_key_and_bad_providers(settings):
    settings.OAUTH_TOKENS = {
        **settings.OAUTH_TOKENS,
        "ENCRYPTION_KEYS": ["not-a-key"],
        "PROVIDERS": {
            "a": {"client_id": "x", "client_secret": "y"},
            "b": {"token_url": "https://b/token", "client_id": "x", "client_secret": "y", "body_format": "xml",
                  "colour": "blue"},
            "c": {"token_url": "http://api.example.com/token", "client_id": "x", "client_secret": "y"},
            "d": {"token_url": "http://127.0.0.1:9000/token", "client_id": "x", "auth_method": "none"},
        },
    }
    messages = [(e.id, e.msg) for e in check_consumer()]
    assert ("oauth_tokens_consumer.E002", "OAUTH_TOKENS['ENCRYPTION_KEYS'][0] is not a valid Fernet key "
            "(32 url-safe base64 bytes).") in messages
    text = "\n".join(m for _, m in messages)
    assert "PROVIDERS['a'] needs a token_url or a metadata_url." in text
    assert "PROVIDERS['b'] has unknown key(s) colour" in text and "'body_format'] must be one of form, json" in text
    insecure = "PROVIDERS['c']['token_url'] is not https: tokens and secrets would cross the network in clear."
    assert ("oauth_tokens_consumer.W001", insecure) in messages
    assert not [m for m in text.splitlines() if "PROVIDERS['d']" in m]  # loopback http and a public client: fine


@pytest.mark.parametrize("key", ["timeout", "refresh_hold_off"])
@pytest.mark.parametrize("value", [-1, "5", True, timedelta(seconds=-1)])
def test_numbers_are_validated(settings, value, key):
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "PROVIDERS": {
        "p": {"token_url": "https://p/token", "client_id": "x", "client_secret": "y", key: value}}}
    assert (f"PROVIDERS['p'][{key!r}] must be a number of seconds or a timedelta, >= 0."
            in [e.msg for e in check_consumer()])


def test_durations_may_be_timedeltas(settings):
    from oauth_tokens.consumer.providers import get_provider

    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "PROVIDERS": {
        "p": {"token_url": "https://p/token", "client_id": "x", "client_secret": "y",
              "refresh_leeway": timedelta(minutes=2), "timeout": timedelta(seconds=2.5),
              "backoff": timedelta(milliseconds=100), "refresh_hold_off": timedelta(seconds=8)}}}
    assert check_consumer() == []
    provider = get_provider("p")
    assert (provider.refresh_leeway, provider.timeout, provider.backoff, provider.refresh_hold_off) == (
        120, 2.5, 0.1, 8)


def test_the_refresh_hold_off_defaults_to_5_seconds(register):
    from oauth_tokens.consumer.providers import get_provider

    register(p={"token_url": "https://p/token", "client_id": "x", "client_secret": "y"})
    assert get_provider("p").refresh_hold_off == 5
