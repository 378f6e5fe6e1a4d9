"""The token exchange rules (RFC 8693), without a database: the ``act`` chain,
``may_act``, scope and audience narrowing, and the trusted-issuer setting's shape."""

import pytest

from oauth_tokens.oauth2 import token_exchange as tx
from oauth_tokens.oauth2.errors import InvalidRequest, InvalidScope, InvalidTarget

HERE = "https://auth.example.test"
A, B = "https://a.example.test/", "https://b.example.test/"


def token(sub="alice", *, issuer=HERE, local=True, claims=None, scope=("read", "write"), audiences=()):
    return tx.PresentedToken(subject=sub, issuer=issuer, claims=claims or {}, local=local, scope=scope,
                             audiences=audiences)


def test_delegation_names_the_actor_and_nests_the_subjects_chain():
    actor = token("svc", claims={"client_id": "svc"})
    assert tx.delegation(token(), actor, local_issuer=HERE) == {"sub": "svc", "client_id": "svc"}
    chained = token(claims={"act": {"sub": "first"}})
    external = token("bot", issuer="https://idp.test", local=False, claims={"client_id": "ignored"})
    assert tx.delegation(chained, external, local_issuer=HERE) == {
        "sub": "bot", "iss": "https://idp.test", "act": {"sub": "first"}}


def test_a_chain_longer_than_the_limit_is_refused():
    act: dict = {"sub": "a0"}
    for i in range(1, tx.MAX_CHAIN):
        act = {"sub": f"a{i}", "act": act}
    with pytest.raises(InvalidRequest, match="longer than"):
        tx.delegation(token(claims={"act": act}), token("svc"), local_issuer=HERE)


def test_may_act_must_name_the_actor_or_the_impersonating_client():
    subject = token(claims={"may_act": {"sub": "svc"}})
    tx.check_may_act(subject, actor=token("svc"), client_id="x", local_issuer=HERE)
    with pytest.raises(InvalidRequest, match="may_act"):
        tx.check_may_act(subject, actor=token("other"), client_id="x", local_issuer=HERE)
    tx.check_may_act(subject, actor=None, client_id="svc", local_issuer=HERE)
    with pytest.raises(InvalidRequest, match="may_act"):
        tx.check_may_act(token(claims={"may_act": "svc"}), actor=None, client_id="svc", local_issuer=HERE)
    tx.check_may_act(token(), actor=token("anyone"), client_id="x", local_issuer=HERE)


def test_scope_narrows_only():
    assert tx.exchanged_scope(None, token(), ["read"]) == ("read",)
    assert tx.exchanged_scope("read", token(), ["read", "write"]) == ("read",)
    with pytest.raises(InvalidScope, match="write"):
        tx.exchanged_scope("read write", token(scope=("read",)), ["read", "write"])
    with pytest.raises(InvalidScope):
        tx.exchanged_scope("write", token(), ["read"])  # the client may not have it
    with pytest.raises(InvalidScope):
        tx.exchanged_scope(None, token(scope=("admin",)), ["read"])


def test_targets_within_the_subject_token_or_the_clients_own_resources():
    def allows(target):
        return target != "https://forbidden.test/"

    subject = token(audiences=(A,))
    assert tx.exchanged_targets([], subject, own=(), allows=allows, default=HERE) == (A,)
    assert tx.exchanged_targets([A], subject, own=(), allows=allows, default=HERE) == (A,)
    assert tx.exchanged_targets([B], subject, own=(B,), allows=allows, default=HERE) == (B,)
    with pytest.raises(InvalidTarget, match=B):
        tx.exchanged_targets([B], subject, own=(), allows=allows, default=HERE)
    with pytest.raises(InvalidTarget):
        tx.exchanged_targets(["https://forbidden.test/"], subject, own=("https://forbidden.test/",), allows=allows,
                             default=HERE)
    # The default audience carries over as "no particular resource".
    assert tx.exchanged_targets([], token(audiences=(HERE,)), own=(), allows=lambda t: False, default=HERE) == ()
    with pytest.raises(InvalidTarget):
        tx.exchanged_targets([], subject, own=(), allows=lambda t: False, default=HERE)


@pytest.mark.parametrize(("value", "problem"), [
    ({}, None),
    ({"https://idp": {"jwks_uri": "https://idp/jwks", "audiences": ["x"], "scopes": ["read"]}}, None),
    ([], "must be a dict"),
    ({"https://idp": {}}, "either a jwks_uri or jwks"),
    ({"https://idp": {"jwks_uri": "u", "jwks": {"keys": []}}}, "either a jwks_uri or jwks"),
    ({"https://idp": {"jwks_uri": "u", "scopes": "read"}}, "list of strings"),
    ({"https://idp": {"jwks_uri": "u", "colour": "red"}}, "unknown keys colour"),
])
def test_the_trusted_issuers_setting_is_checked(value, problem):
    found = tx.issuers_problem(value)
    assert (found is None) if problem is None else (problem in found)
