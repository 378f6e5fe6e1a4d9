"""The end-session endpoint of OpenID Connect RP-Initiated Logout 1.0:
``GET/POST /oauth/logout`` (``end_session_endpoint``).

The request is checked first (``oauth2.logout``); a bad one gets an error page
(400), never a redirect. A signed-in user is asked to confirm, on a page whose
form posts the request back with a button named ``logout`` (CSRF-checked: only
that form, since relying parties may POST the logout request itself from their
own site, section 2); the prompt is skipped when a valid ``id_token_hint``
names the signed-in user, unless ``RP_INITIATED_LOGOUT_ALWAYS_PROMPT``. A hint
for another user never logs anyone out without the confirmation. Then
``django.contrib.auth.logout`` (its ``user_logged_out`` signal, so
``REVOKE_TOKENS_ON_LOGOUT`` applies), with ``RP_INITIATED_LOGOUT_REVOKE_TOKENS``
the user's tokens of the requesting client revoked, and a redirect to the
registered ``post_logout_redirect_uri`` with ``state``, or the "logged out"
page. Off (the default) it is a 404. Templates ``oauth_tokens/logout_confirm.html``,
``logged_out.html`` and ``logout_error.html``; a project overrides them by name.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseNotFound, QueryDict
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_deny
from django.views.decorators.csrf import csrf_protect

from oauth_tokens.browser import browser_view
from oauth_tokens.oauth2 import logout as spec
from oauth_tokens.oauth2.errors import InvalidRequest, OAuth2Error
from oauth_tokens.provider import keys, revocation
from oauth_tokens.provider.authorize import HttpResponseSeeOther
from oauth_tokens.provider.models import Client
from oauth_tokens.settings import token_settings

CONFIRM_TEMPLATE = "oauth_tokens/logout_confirm.html"
DONE_TEMPLATE = "oauth_tokens/logged_out.html"
ERROR_TEMPLATE = "oauth_tokens/logout_error.html"
#: Longest accepted value per parameter (an ID token is the longest).
MAX_LENGTH = 8192


def enabled() -> bool:
    return bool(token_settings.RP_INITIATED_LOGOUT_ENABLED)


def _error_page(request: HttpRequest, message: str, *args: Any, **kwargs: Any) -> HttpResponse:
    return render(request, ERROR_TEMPLATE, {"message": message}, status=400)


def _single_params(data: QueryDict) -> dict[str, str]:
    params = {}
    for name in spec.PARAMS:
        values = data.getlist(name)
        if len(values) > 1:
            raise InvalidRequest(f"Parameter {name!r} is repeated")
        if values and values[0] != "":
            if "\x00" in values[0] or len(values[0]) > MAX_LENGTH:
                raise InvalidRequest(f"Parameter {name!r} is not valid")
            params[name] = values[0]
    return params


def _find_client(client_id: str) -> Client | None:
    return Client.objects.filter(client_id=client_id).first()


@method_decorator(never_cache, name="dispatch")
@method_decorator(browser_view(_error_page, csrf=False), name="dispatch")
@method_decorator(xframe_options_deny, name="dispatch")
class LogoutView(View):
    http_method_names = ["get", "post"]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if (request.method or "").lower() not in self.http_method_names:
            return self.http_method_not_allowed(request, *args, **kwargs)
        if not enabled():
            return HttpResponseNotFound("RP-initiated logout is not enabled.", content_type="text/plain")
        data = request.GET if request.method == "GET" else request.POST
        try:
            params = _single_params(data)
            logout_request = spec.validate(params, key_for=keys.verification_key, issuer=token_settings.issuer,
                                           find_client=_find_client)
        except OAuth2Error as exc:
            return _error_page(request, exc.description)
        user = request.user
        if not user.is_authenticated:
            return self.finish(request, logout_request)
        if request.method == "POST" and "logout" in request.POST:
            return csrf_protect(self.log_out)(request, logout_request)
        hint_is_this_user = logout_request.hint_subject == str(user.pk)
        if hint_is_this_user and not token_settings.RP_INITIATED_LOGOUT_ALWAYS_PROMPT:
            return self.log_out(request, logout_request)
        return self.confirm_page(request, logout_request, params)

    def confirm_page(self, request: HttpRequest, logout_request: spec.LogoutRequest,
                     params: dict[str, str]) -> HttpResponse:
        context = {
            "client": _find_client(logout_request.client_id) if logout_request.client_id else None,
            "hidden_fields": {k: v for k, v in params.items() if k not in ("ui_locales", "logout_hint")},
            "other_user": logout_request.hint_subject is not None
            and logout_request.hint_subject != str(request.user.pk),
        }
        return render(request, CONFIRM_TEMPLATE, context)

    def log_out(self, request: HttpRequest, logout_request: spec.LogoutRequest) -> HttpResponse:
        user = request.user
        logout(request)
        if token_settings.RP_INITIATED_LOGOUT_REVOKE_TOKENS and logout_request.client_id:
            client = _find_client(logout_request.client_id)
            if client is not None:
                revocation.revoke_user(user, reason="rp_initiated_logout", client=client)
        return self.finish(request, logout_request)

    def finish(self, request: HttpRequest, logout_request: spec.LogoutRequest) -> HttpResponse:
        location = logout_request.redirect_location()
        if location is not None:
            return HttpResponseSeeOther(location)
        client = _find_client(logout_request.client_id) if logout_request.client_id else None
        return render(request, DONE_TEMPLATE, {"client": client})
