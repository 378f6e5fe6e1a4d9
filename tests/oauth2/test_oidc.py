"""OpenID Connect claims (OIDC Core 1.0 sections 2, 5.1 and 5.4), from plain values."""

from oauth_tokens.oauth2 import oidc

ADA = oidc.Profile(username="ada", name="Ada Lovelace", given_name="Ada", family_name="Lovelace",
                   email="ada@example.com")


def test_the_subject_is_the_user_id_or_for_a_client_token_the_client_id():
    assert oidc.subject("client-1", 42) == "42"
    assert oidc.subject("client-1", None) == "client-1"


def test_openid_alone_releases_no_user_claims():
    assert oidc.user_claims(ADA, ("openid",)) == {}


def test_profile_releases_the_username_and_the_names_the_user_has():
    assert oidc.user_claims(ADA, ("openid", "profile")) == {
        "preferred_username": "ada", "name": "Ada Lovelace", "given_name": "Ada", "family_name": "Lovelace",
    }
    assert oidc.user_claims(oidc.Profile(username="bob"), ("profile",)) == {"preferred_username": "bob"}


def test_email_releases_the_address_never_claimed_verified():
    assert oidc.user_claims(ADA, ("openid", "email")) == {"email": "ada@example.com", "email_verified": False}
    assert oidc.user_claims(oidc.Profile(username="bob"), ("email",)) == {}


def test_the_projects_claims_come_over_the_standard_ones():
    claims = oidc.user_claims(ADA, ("email",), extra={"email_verified": True, "tenant": "t1"})
    assert claims == {"email": "ada@example.com", "email_verified": True, "tenant": "t1"}


def test_an_id_token_says_who_for_whom_and_until_when():
    claims = oidc.id_token_claims(issuer="https://as.example", subject="42", audience="client-1", issued_at=1000,
                                  lifetime=300)
    assert claims == {"iss": "https://as.example", "sub": "42", "aud": "client-1", "iat": 1000, "exp": 1300}


def test_an_id_token_carries_the_authorization_requests_auth_time_and_nonce():
    claims = oidc.id_token_claims(issuer="https://as.example", subject="42", audience="client-1", issued_at=1000,
                                  lifetime=300, auth_time=990, nonce="n-0S6")
    assert claims["auth_time"] == 990 and claims["nonce"] == "n-0S6"


def test_user_claims_never_replace_the_id_tokens_own():
    claims = oidc.id_token_claims(
        issuer="https://as.example", subject="42", audience="client-1", issued_at=1000, lifetime=300, nonce="n",
        user={"sub": "someone else", "aud": "x", "exp": 10**10, "nonce": "other", "preferred_username": "ada"},
    )
    assert (claims["sub"], claims["aud"], claims["exp"], claims["nonce"]) == ("42", "client-1", 1300, "n")
    assert claims["preferred_username"] == "ada"
