"""Authorization endpoint (RFC 6749 section 4.1.1-4.1.2): login, consent, code.

GET shows the consent page; its form posts every hidden input back together
with a button named ``allow`` or ``deny``, and the CSRF token: the view is
``csrf_protect``-ed itself, with or without ``CsrfViewMiddleware``. The answer is a 303 to the verified
redirect URI (RFC 9700 section 4.12). An unknown client or redirect URI gets an
error page and never a redirect. Every response sent to the redirect URI,
success or error, carries ``iss``, our issuer (RFC 9207 section 2), so a client
talking to several servers can tell which one answered.

``resource`` (RFC 8707) may be repeated: the consent page shows the resources
and posts each back as its own hidden input; the code keeps them.

A request naming a ``request_uri`` (RFC 9126) is the pushed request's
parameters (``pushed_requests``); its consent form posts back only
``client_id`` and ``request_uri``, and the decision spends it. A client that
must push (``REQUIRE_PUSHED_AUTHORIZATION_REQUESTS``, or its own flag) gets the
error page for a plain request.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any
from urllib.parse import urlsplit

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_deny

from oauth_tokens.browser import browser_view
from oauth_tokens.oauth2 import authorize as spec
from oauth_tokens.oauth2 import resources, scopes
from oauth_tokens.oauth2.errors import AccessDenied, InvalidRequest, InvalidRequestUri, OAuth2Error
from oauth_tokens.provider import client_documents, pushed_requests
from oauth_tokens.provider.models import AuthorizationCode, Client, PushedAuthorizationRequest
from oauth_tokens.settings import token_settings

PARAMS = (
    "response_type", "client_id", "redirect_uri", "scope", "state",
    "code_challenge", "code_challenge_method", "nonce", "dpop_jkt",
)
#: Longest accepted value per parameter: a longer one gets the error page, so a
#: huge ``state`` is never echoed into the page or the redirect. ``nonce`` has a
#: column of 255 characters.
MAX_LENGTH = 4096
MAX_LENGTHS = {"nonce": 255}
#: The repeatable parameter: every value is kept (``resource``, RFC 8707 section 2).
RESOURCE = "resource"


class HttpResponseSeeOther(HttpResponseRedirect):
    status_code = 303

    def __init__(self, url: str) -> None:
        # The URI was matched against the client's registered ones, which may use
        # a native app's private scheme (RFC 8252 section 7.1).
        self.allowed_schemes = [urlsplit(url).scheme or "https"]
        super().__init__(url)


def to_client(location: str) -> HttpResponseSeeOther:
    """An authorization response (``location`` with its code or error), naming
    its issuer (RFC 9207 section 2)."""
    return HttpResponseSeeOther(spec.add_query(location, {"iss": token_settings.issuer}))


def _single_params(data: QueryDict) -> dict[str, str]:
    params = {}
    for name in PARAMS:
        values = data.getlist(name)
        if len(values) > 1:
            raise InvalidRequest(f"Parameter {name!r} is repeated")
        if values and values[0] != "":
            if "\x00" in values[0]:
                raise InvalidRequest("Parameters must not contain NUL bytes")
            if len(values[0]) > MAX_LENGTHS.get(name, MAX_LENGTH):
                raise InvalidRequest(f"Parameter {name!r} is too long")
            params[name] = values[0]
    return params


def _resource_params(data: QueryDict) -> list[str]:
    values = [v for v in data.getlist(RESOURCE) if v != ""]
    if any("\x00" in v for v in values):
        raise InvalidRequest("Parameters must not contain NUL bytes")
    if any(len(v) > MAX_LENGTH for v in values):
        raise InvalidRequest(f"Parameter {RESOURCE!r} is too long")
    return values


def read_request(data: QueryDict) -> tuple[Client | None, spec.AuthorizationRequest]:
    """The client and the validated authorization request of ``data`` (the query,
    the consent form, or a pushed request's parameters, which ``par_endpoint``
    validates with this too); ``RedirectError`` or another ``OAuth2Error``."""
    params = _single_params(data)
    client_id = params.get("client_id", "")
    client = client_documents.resolve(client_id) if client_id else None
    return client, spec.validate(params, client, pkce_required_for_confidential=bool(token_settings.PKCE_REQUIRED),
                                 resource=_resource_params(data))


def _error_page(request: HttpRequest, message: str, *args: Any, **kwargs: Any) -> HttpResponse:
    return render(request, token_settings.ERROR_TEMPLATE, {"message": message}, status=400)


# CSRF protection of its own (browser_view): consent must not depend on the host
# project keeping CsrfViewMiddleware, or any site could post allow=1 for a signed-in user.
@method_decorator(never_cache, name="dispatch")
@method_decorator(browser_view(_error_page), name="dispatch")
@method_decorator(xframe_options_deny, name="dispatch")
class AuthorizeView(View):
    http_method_names = ["get", "post"]
    #: The pushed request (RFC 9126) this request names with its ``request_uri``, if any.
    pushed: PushedAuthorizationRequest | None = None
    request_uri = ""

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if (request.method or "").lower() not in self.http_method_names:
            return self.http_method_not_allowed(request, *args, **kwargs)
        if not request.user.is_authenticated:
            if request.method == "GET" and "request_uri" in request.GET:
                # A pushed request's first arrival: its holder gets the consent time to log in and decide.
                with suppress(OAuth2Error):
                    pushed_requests.arrived(pushed_requests.find(request.GET))
            return redirect_to_login(request.get_full_path())  # over 16 KB: browser_view's error page
        data: QueryDict = request.GET if request.method == "GET" else request.POST
        self.pushed = None
        try:
            if "request_uri" in data:
                # RFC 9126 section 4: the pushed parameters, and only them.
                self.pushed = pushed_requests.find(data)
                self.request_uri = str(data.get("request_uri", ""))
                data = pushed_requests.parameters(self.pushed)
            elif pushed_requests.required_for(data.get("client_id")):
                raise InvalidRequest("This client must push its authorization requests (RFC 9126) "
                                     "and send the request_uri it got")
            client, auth_request = read_request(data)
        except spec.RedirectError as exc:
            return to_client(exc.location)
        except OAuth2Error as exc:
            # Unknown client, unverified redirect_uri, malformed request, a bad request_uri:
            # show, never redirect.
            return self.error_page(request, exc.description if exc.error == "invalid_request"
                                   else f"{exc.error}: {exc.description}")
        assert client is not None
        if request.method == "GET":
            return self.consent_page(request, client, auth_request)
        return self.decide(request, client, auth_request)

    def error_page(self, request: HttpRequest, message: str) -> HttpResponse:
        return _error_page(request, message)

    def consent_page(
        self, request: HttpRequest, client: Client, auth_request: spec.AuthorizationRequest
    ) -> HttpResponse:
        known = token_settings.SCOPES
        context = {
            "client": client,
            "scopes": [(s, known.get(s, s)) for s in scopes.parse(auth_request.scope)],
            "hidden_fields": auth_request.as_params() if self.pushed is None else {
                "client_id": client.client_id, "request_uri": self.request_uri,
            },
            # RFC 8707: each is shown, and posted back as its own hidden "resource" input.
            "resources": auth_request.resources,
            "redirect_host": urlsplit(auth_request.redirect_uri).hostname or "",
            # A client known only by its metadata document names itself: show where it lives.
            "client_host": urlsplit(client.client_id).hostname if client_documents.is_document_client(client) else "",
        }
        if self.pushed is not None:
            pushed_requests.arrived(self.pushed)
        return render(request, token_settings.CONSENT_TEMPLATE, context)

    def decide(self, request: HttpRequest, client: Client, auth_request: spec.AuthorizationRequest) -> HttpResponse:
        allow, deny = "allow" in request.POST, "deny" in request.POST
        if allow == deny:
            # A browser sends only the button that was clicked.
            return self.error_page(request, "Choose allow or deny.")
        if self.pushed is not None and not pushed_requests.spend(self.pushed):
            return self.error_page(request, f"{InvalidRequestUri.error}: {InvalidRequestUri.description}")
        if allow:
            _code, value = AuthorizationCode.issue(
                client=client,
                user=request.user,
                redirect_uri=auth_request.redirect_uri,
                scope=auth_request.scope,
                resources=resources.join(auth_request.resources),
                code_challenge=auth_request.code_challenge,
                code_challenge_method=auth_request.code_challenge_method,
                nonce=auth_request.nonce or "",
                dpop_jkt=auth_request.dpop_jkt or "",
                auth_time=getattr(request.user, "last_login", None),
            )
            return to_client(
                spec.add_query(auth_request.redirect_uri, {"code": value, "state": auth_request.state})
            )
        error = spec.RedirectError(AccessDenied(), auth_request.redirect_uri, auth_request.state)
        return to_client(error.location)
