"""The JWT bearer grant's settings: a wrong ``JWT_BEARER_*`` value is the system
check error oauth_tokens.E005 naming the key (and what is wrong), never a 500."""

from io import StringIO

import pytest
from django.core import checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from oauth_tokens.settings import check_setting_values
from tests.provider.jwt_clients import jwks, rsa_key

GOOD_KEY = "ZmDfcTF7_60GrrY167zsiPd67pEvs0aGOv2oasOM1Pg="
PRODUCTION = {"ISSUER": "https://auth.example.test", "ENCRYPTION_KEYS": [GOOD_KEY], "DIGEST_KEY": "k"}
IDP = "https://idp.example.test"
KEYS = jwks((rsa_key(), "k1"))


@pytest.mark.parametrize(("key", "value", "words"), [
    ("JWT_BEARER_ENABLED", "yes", "True or False"),
    ("JWT_BEARER_REFRESH_TOKENS", 1, "True or False"),
    ("JWT_BEARER_MAX_LIFETIME", 0, "> 0"),
    ("JWT_BEARER_ISSUERS", ["https://idp.example.test"], "must be a dict"),
    ("JWT_BEARER_ISSUERS", {IDP: {}}, "exactly one of jwks"),
    ("JWT_BEARER_ISSUERS", {IDP: {"jwks": KEYS, "jwks_uri": "https://idp.example.test/jwks"}}, "exactly one"),
    ("JWT_BEARER_ISSUERS", {IDP: {"jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}}}, "public keys only"),
    ("JWT_BEARER_ISSUERS", {IDP: {"jwks_uri": "idp.example.test/jwks"}}, "absolute URL"),
    ("JWT_BEARER_ISSUERS", {IDP: {"jwks": KEYS, "audiences": "https://a.example.test"}}, "list of strings"),
    ("JWT_BEARER_ISSUERS", {IDP: {"jwks": KEYS, "clients": [1]}}, "list of strings"),
    ("JWT_BEARER_ISSUERS", {IDP: {"jwks": KEYS, "id_jag": "true"}}, "True or False"),
    ("JWT_BEARER_ISSUERS", {IDP: {"jwks": KEYS, "user_lookup": "phone"}}, "user_lookup"),
    ("JWT_BEARER_ISSUERS", {IDP: {"jwks": KEYS, "audience": ["x"]}}, "unknown key"),
    ("JWT_BEARER_ISSUERS", {"": {"jwks": KEYS}}, "issuer identifier"),
])
def test_a_wrong_value_is_a_check_error_naming_the_key(key, value, words):
    with override_settings(OAUTH_TOKENS={**PRODUCTION, key: value}):
        errors = check_setting_values()
        assert [e.id for e in errors] == ["oauth_tokens.E005"] and errors[0].level == checks.ERROR
        assert f"OAUTH_TOKENS['{key}']" in errors[0].msg and words in errors[0].msg
        with pytest.raises(SystemCheckError):
            call_command("check", stdout=StringIO(), stderr=StringIO())


def test_a_good_configuration_passes_the_checks():
    issuers = {IDP: {"jwks": KEYS, "id_jag": True, "clients": ["agent"], "audiences": [], "user_lookup": "email"},
               "urn:example:saml-idp": {"jwks_uri": "https://idp.example.test/jwks", "token_endpoint_audience": True}}
    with override_settings(OAUTH_TOKENS={**PRODUCTION, "JWT_BEARER_ENABLED": True, "JWT_BEARER_ISSUERS": issuers,
                                         "JWT_BEARER_MAX_LIFETIME": 600, "JWT_BEARER_REFRESH_TOKENS": True}):
        assert check_setting_values() == []
