"""Fault e: a provider whose clock is ahead or behind, within and beyond ``JWT_LEEWAY``.

A real token is taken from the server, its time claims are shifted the way a
skewed provider clock would have set them, and it is signed again with the
provider's current signing key (in this process, on the same database): an
access token from a skewed instance of the same provider. Within the leeway the
protected view accepts it and introspection calls it active; beyond, the view
answers 401 ``invalid_token`` in OAuth JSON and introspection ``active: false``;
never a 500.
"""

from __future__ import annotations

import time

from reliability.faultkit import Stack, Tally
from reliability.faults_redis import claims_of


def skewed(claims: dict, **shift: int) -> dict:
    """``claims`` with iat / exp / nbf moved by the given seconds (nbf added if asked)."""
    moved = dict(claims)
    for name, seconds in shift.items():
        moved[name] = int(moved.get(name, moved["iat"])) + seconds
    return moved


def run(stack: Stack) -> Tally:
    from oauth_tokens.provider import keys
    from oauth_tokens.settings import token_settings

    tally = Tally("e. clock skew")
    leeway = int(token_settings.JWT_LEEWAY)
    client = stack.client()
    service = stack.fx.service
    within, beyond = leeway // 2, leeway * 2 + 5
    cases = [
        # (what, shifted claims, accepted?)
        (f"provider {within} s ahead (iat in the future)", dict(iat=within, exp=within), True),
        (f"provider {beyond} s ahead (iat in the future)", dict(iat=beyond, exp=beyond), False),
        (f"nbf {within} s ahead", dict(nbf=within), True),
        (f"nbf {beyond} s ahead", dict(nbf=beyond), False),
        (f"provider behind: expired {within} s ago", "expired", True),
        (f"provider behind: expired {beyond} s ago", "expired", False),
    ]
    for what, shift, accepted in cases:
        token = client.client_credentials().json()["access_token"]
        claims = claims_of(token)
        if shift == "expired":
            ago = within if accepted else beyond
            lifetime = claims["exp"] - claims["iat"]
            back = int(time.time()) - ago - claims["exp"]  # exp lands ``ago`` seconds in the past
            claims = skewed(claims, iat=back, exp=back)
            assert claims["exp"] - claims["iat"] == lifetime
        else:
            claims = skewed(claims, **shift)
        forged = keys.sign(claims)
        api = tally.timed(f"/api/me, {what}", lambda t=forged: client.api(t), oauth=False,
                          allowed=(200,) if accepted else (401,))
        if api is not None and api.status_code == 401:
            error = api.json().get("error") if api.headers.get("content-type", "").startswith("application/json") \
                else None
            if error != "invalid_token":
                tally.violations.append(f"/api/me, {what}: 401 with error {error!r}, not invalid_token")
        intro = tally.timed(f"introspect, {what}", lambda t=forged: client.http.post(
            "/oauth/introspect", data={"token": t}, auth=(service.client_id, service.client_secret)),
            allowed=(200,))
        if intro is not None and intro.status_code == 200 and intro.json().get("active") is not accepted:
            tally.violations.append(f"introspect, {what}: active={intro.json().get('active')}, expected {accepted}")
    tally.notes.append(f"JWT_LEEWAY {leeway} s; {len(cases)} skews, each on /api/me and introspection")
    client.close()
    return tally
