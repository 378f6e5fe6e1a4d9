"""Scopes (RFC 6749 section 3.3): space-delimited, case-sensitive, never widened."""

import pytest

from oauth_tokens.oauth2 import scopes
from oauth_tokens.oauth2.errors import InvalidScope


def test_parse_keeps_order_and_drops_duplicates_and_empty_tokens():
    assert scopes.parse("write read  write ") == ("write", "read")
    assert scopes.parse("") == ()
    assert scopes.parse(None) == ()


@pytest.mark.parametrize("value", ['read "x"', "read\\x", "read\twrite", "r\u00e9ad", "read\nwrite", "a\x00"])
def test_characters_outside_nqchar_are_invalid_scope(value):
    with pytest.raises(InvalidScope):
        scopes.parse(value)


def test_narrow_grants_a_subset():
    assert scopes.narrow("read", ["read", "write"]) == ("read",)


def test_narrow_without_request_grants_the_default_or_everything_allowed():
    assert scopes.narrow(None, ["read", "write"]) == ("read", "write")
    assert scopes.narrow("", ["read", "write"], default=["read"]) == ("read",)


def test_wider_scope_is_invalid_scope():
    with pytest.raises(InvalidScope, match="admin"):
        scopes.narrow("read admin", ["read", "write"])


def test_scopes_are_case_sensitive():
    with pytest.raises(InvalidScope):
        scopes.narrow("READ", ["read"])


def test_join():
    assert scopes.join(("read", "write")) == "read write"
