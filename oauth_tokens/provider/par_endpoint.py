"""The pushed authorization request endpoint (RFC 9126 section 2): ``POST /oauth/par``.

The client authenticates as at the token endpoint (``client_auth``; a public
client sends its ``client_id``); the form body holds an authorization request,
validated as the authorization endpoint validates one (``authorize.read_request``),
with every error answered here as JSON (400, no-store), never redirected. A
``request_uri`` inside the push is refused (section 2.1). The answer is 201
with the ``request_uri`` to send to the authorization endpoint and its
``expires_in``. Off (``PUSHED_AUTHORIZATION_REQUESTS_ENABLED``) it is a 404.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, QueryDict
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from oauth_tokens.oauth2 import authorize as spec
from oauth_tokens.oauth2.dpop import InvalidDPoPProof
from oauth_tokens.oauth2.errors import InvalidRequest
from oauth_tokens.oauth2.request import FORM, TokenRequest, media_type
from oauth_tokens.provider import client_auth, dpop, pushed_requests
from oauth_tokens.provider.authorize import read_request
from oauth_tokens.provider.stores import OrmTokenStore
from oauth_tokens.provider.views import OAuthView, client_ip, read_body
from oauth_tokens.responses import json_response

#: Client authentication parameters: read for authentication, never stored.
CREDENTIALS = ("client_secret",)


def _credentials(request: HttpRequest, data: QueryDict) -> TokenRequest:
    """The client credentials of the push, parsed as the token endpoint parses them."""
    creds = {}
    for name in ("client_id", *CREDENTIALS):
        values = data.getlist(name)
        if len(values) > 1:
            raise InvalidRequest(f"Parameter {name!r} is repeated")
        if values and values[0]:
            creds[name] = values[0]
    return TokenRequest.build(content_type=FORM, body=urlencode(creds).encode(),
                              authorization=request.META.get("HTTP_AUTHORIZATION", ""),
                              client_ip=client_ip(request))


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(sensitive_post_parameters(*CREDENTIALS), name="dispatch")
class PushedAuthorizationRequestView(OAuthView):
    http_method_names = ["post", "options"]

    @method_decorator(sensitive_variables())
    def post(self, request: HttpRequest) -> HttpResponse:
        if not pushed_requests.enabled():
            raise InvalidRequest("Pushed authorization requests are not enabled on this server", status_code=404)
        body = read_body(request)
        if media_type(request.META.get("CONTENT_TYPE")) != FORM:
            raise InvalidRequest(f"Content-Type must be {FORM}")
        data = QueryDict(body)
        credentials = _credentials(request, data)
        client = client_auth.authenticate(credentials, OrmTokenStore(ip=credentials.client_ip))
        if "request_uri" in data:
            raise InvalidRequest("A pushed authorization request must not contain a request_uri")
        params = QueryDict(mutable=True)
        for name in data:
            if name not in CREDENTIALS:
                values = data.getlist(name)
                if "\x00" in name or any("\x00" in value for value in values):
                    # Every parameter is stored, and no database keeps a NUL in a JSON value.
                    raise InvalidRequest("Parameters must not contain NUL bytes")
                params.setlist(name, values)
        params["client_id"] = client.client_id
        # RFC 9449 section 10.1: a DPoP proof with the push binds the code to its key,
        # as dpop_jkt does; both given, they must name the same key.
        jkt = dpop.token_request_jkt(request, dpop.PAR_ENDPOINT)
        if jkt is not None:
            if params.get("dpop_jkt", jkt) != jkt:
                raise InvalidDPoPProof("dpop_jkt does not match the key of the DPoP proof")
            params["dpop_jkt"] = jkt
        try:
            read_request(params)
        except spec.RedirectError as exc:
            raise exc.error from None
        request_uri = pushed_requests.push(client, params)
        return json_response({"request_uri": request_uri, "expires_in": pushed_requests.lifetime()}, status=201)
