"""The per-process caches: one registry, one reset (``oauth_tokens.process_caches``)."""

from __future__ import annotations

import pathlib

from django.test import override_settings

import oauth_tokens
from oauth_tokens import crypto, process_caches
from oauth_tokens.resource import verifier as resource_verifier
from oauth_tokens.settings import token_settings

PACKAGE = pathlib.Path(oauth_tokens.__file__).parent


def test_no_module_listens_for_setting_changes_on_its_own():
    connected = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if "setting_changed.connect" in path.read_text() and path.name != "process_caches.py"
    ]
    assert connected == []


def test_a_changed_setting_resets_the_caches_derived_from_it():
    digest, issuer = crypto.digest("a token"), token_settings.issuer
    with override_settings(OAUTH_TOKENS={"ISSUER": "https://elsewhere.example", "DIGEST_KEY": "another key"}):
        assert token_settings.issuer == "https://elsewhere.example"
        assert crypto.digest("a token") != digest
    assert (crypto.digest("a token"), token_settings.issuer) == (digest, issuer)


def test_reset_all_forgets_every_registered_cache():
    resource_verifier.get_verifier()
    assert resource_verifier._chosen is not None
    process_caches.reset_all()
    assert resource_verifier._chosen is None
    assert "oauth_tokens.crypto.reset_keys" in process_caches.registered()
