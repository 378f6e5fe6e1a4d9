"""The consumer demo: this site registers its own provider as an external
provider ("self", over HTTP to itself), so you can connect, approve, and watch
the stored token refresh and rotate. The page shows status, expiry and the
rotation count; never a token."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_POST

from oauth_tokens.consumer import ConsumerError, ReauthorizationRequired, get_access_token, http_client
from oauth_tokens.consumer.models import ExternalToken
from oauth_tokens.consumer.service import refresh_access_token
from oauth_tokens.settings import token_settings

PROVIDER = "self"
PAGE = "/demo/consumer/"


def setup_self_loop(base: str) -> str:
    """Create the provider-side client the "self" provider logs in with (setupdemo)."""
    from oauth_tokens import crypto
    from oauth_tokens.provider.models import Client

    entry = token_settings.PROVIDERS.get(PROVIDER)
    if not entry:
        return ""
    Client.objects.filter(client_id=entry["client_id"]).delete()
    client = Client(
        client_id=entry["client_id"],
        name="Demo consumer (self-loop)",
        grant_types="authorization_code refresh_token",
        redirect_uris=f"{base}/oauth/connect/{PROVIDER}/callback/",
        scope="read",
        access_token_lifetime=60,  # short, so the page shows refreshes and rotations within a minute
    )
    client.secret_digest = crypto.digest(entry["client_secret"])
    client.save()
    return (
        f"\nConsumer (this site calling itself as an external provider, 60 s access tokens):\n"
        f"  open {base}{PAGE} (log in as demo / demo-password), click Connect, then Allow;\n"
        f"  reload the page to watch the token refresh (after 30 s) and its refresh token rotate.\n"
    )


def _row(user) -> ExternalToken | None:
    return ExternalToken.objects.filter(provider=PROVIDER, user=user).defer("access_token", "refresh_token").first()


@login_required
def page(request):
    """Status and the actions that apply: Connect while not connected; call, refresh
    and disconnect while connected."""
    context = {"page": PAGE, "now": timezone.now(), "connected": False, "reason": "", "problem": "",
               "connect_url": f"/oauth/connect/{PROVIDER}/?next={PAGE}",
               "disconnect_url": f"/oauth/connect/{PROVIDER}/disconnect/"}
    try:
        get_access_token(PROVIDER, request.user)  # proactive refresh happens here
        context["connected"] = True
    except ReauthorizationRequired as exc:
        context["reason"], context["connect_url"] = exc.reason, f"{exc.url}?next={PAGE}"
    except ConsumerError as exc:
        context["problem"] = str(exc)
    row = _row(request.user)
    if row is not None:
        left = row.seconds_left()
        context["fields"] = [
            ("status", row.get_status_display()),
            ("access token expires", f"{row.expires_at:%H:%M:%S} UTC ({left} s left)" if row.expires_at else "-"),
            ("obtained", f"{row.obtained_at:%H:%M:%S} UTC" if row.obtained_at else "-"),
            ("refreshes (rotations) since connect", row.refresh_count),
            ("scope", row.scope),
            ("updated", f"{row.updated_at:%H:%M:%S} UTC"),
        ]
    context["notes"] = [str(m) for m in messages.get_messages(request)]
    response = render(request, "demo/consumer.html", context)
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def call_api(request):
    try:
        with http_client(PROVIDER, request.user) as api:
            answer = api.get("/api/me")
        messages.info(request, f"GET /api/me -> {answer.status_code} {answer.text[:200]}")
    except ConsumerError as exc:
        messages.error(request, str(exc))
    return HttpResponseRedirect(PAGE)


@login_required
@require_POST
def refresh(request):
    try:
        refresh_access_token(PROVIDER, request.user)
        messages.info(request, "Refreshed: a new access token and a rotated refresh token were stored.")
    except ConsumerError as exc:
        messages.error(request, str(exc))
    return HttpResponseRedirect(PAGE)
