"""PKCE (RFC 7636 sections 4.1-4.6, RFC 9700 sections 2.1.1 and 4.8.2): S256 only."""

import pytest

from oauth_tokens.oauth2 import pkce
from oauth_tokens.oauth2.errors import InvalidGrant, InvalidRequest

VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"  # RFC 7636 Appendix B


def test_s256_matches_rfc_7636_appendix_b():
    assert pkce.s256(VERIFIER) == CHALLENGE


@pytest.mark.parametrize("length", [43, 64, 128])
def test_verifier_lengths_43_to_128_are_accepted(length):
    verifier = ("aB3-._~" * 30)[:length]
    pkce.verify(pkce.s256(verifier), "S256", verifier)


@pytest.mark.parametrize("length", [1, 42, 129, 500])
def test_verifier_of_wrong_length_is_invalid_request(length):
    verifier = "a" * length
    with pytest.raises(InvalidRequest, match="43-128"):
        pkce.verify(pkce.s256("a" * 43), "S256", verifier)


@pytest.mark.parametrize("char", ["+", "/", "=", " ", "%", "\u00e9", "\n"])
def test_verifier_with_characters_outside_the_unreserved_set_is_invalid_request(char):
    verifier = "a" * 42 + char
    with pytest.raises(InvalidRequest):
        pkce.verify(pkce.s256("a" * 43), "S256", verifier)


def test_verifier_mismatch_is_invalid_grant():
    with pytest.raises(InvalidGrant):
        pkce.verify(CHALLENGE, "S256", "x" * 43)


def test_verifier_is_required_when_a_challenge_was_sent():
    with pytest.raises(InvalidRequest, match="code_verifier"):
        pkce.verify(CHALLENGE, "S256", None)
    with pytest.raises(InvalidRequest, match="code_verifier"):
        pkce.verify(CHALLENGE, "S256", "")


def test_verifier_without_a_challenge_is_a_downgrade_and_invalid_request():
    with pytest.raises(InvalidRequest, match="no code_challenge"):
        pkce.verify("", "", VERIFIER)


def test_no_challenge_and_no_verifier_is_fine():
    pkce.verify("", "", None)


def test_a_code_bound_to_plain_never_verifies():
    # Defence in depth: even a stored "plain" challenge is refused.
    with pytest.raises(InvalidGrant):
        pkce.verify(VERIFIER, "plain", VERIFIER)


# -- the authorization request's challenge -------------------------------------
def test_s256_challenge_is_accepted():
    assert pkce.validate_challenge(CHALLENGE, "S256", required=True) == (CHALLENGE, "S256")


@pytest.mark.parametrize("method", ["plain", "s256", "S512", ""])
def test_other_methods_are_refused(method):
    with pytest.raises(InvalidRequest, match="S256"):
        pkce.validate_challenge(CHALLENGE, method, required=True)


def test_challenge_without_method_means_plain_and_is_refused():
    with pytest.raises(InvalidRequest, match="S256"):
        pkce.validate_challenge(CHALLENGE, None, required=False)


def test_method_without_challenge_is_refused():
    with pytest.raises(InvalidRequest):
        pkce.validate_challenge(None, "S256", required=False)


def test_missing_challenge_when_required():
    with pytest.raises(InvalidRequest, match="required"):
        pkce.validate_challenge(None, None, required=True)
    assert pkce.validate_challenge(None, None, required=False) == ("", "")


@pytest.mark.parametrize("challenge", [CHALLENGE[:-1], CHALLENGE + "A", CHALLENGE[:-1] + "=", VERIFIER + "+"])
def test_malformed_s256_challenge_is_refused(challenge):
    with pytest.raises(InvalidRequest):
        pkce.validate_challenge(challenge, "S256", required=True)
