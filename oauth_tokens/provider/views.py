"""Token endpoint (RFC 6749 section 3.2) and its GET validation twin (seed 001).

A request flows: parse here -> ``oauth2.server`` (authenticate, grant) ->
``stores.OrmTokenStore`` (one transaction) -> render here.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from django.db import OperationalError, connections, transaction
from django.db.transaction import TransactionManagementError
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from oauth_tokens.oauth2 import bearer
from oauth_tokens.oauth2.dpop import InvalidDPoPProof
from oauth_tokens.oauth2.errors import InvalidGrant, InvalidRequest, InvalidToken, OAuth2Error, TemporarilyUnavailable
from oauth_tokens.oauth2.request import TokenRequest
from oauth_tokens.oauth2.server import create_token_response
from oauth_tokens.oauth2.store import TokenStore
from oauth_tokens.provider import client_auth, dpop, failed_refreshes, metrics, models
from oauth_tokens.provider.dberrors import transient
from oauth_tokens.provider.stores import OrmTokenStore
from oauth_tokens.refusals import REFUSED, as_oauth_error
from oauth_tokens.responses import error_response, json_response
from oauth_tokens.settings import token_settings

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    # The ORM store is a TokenStore of its own rows: mypy names any method that is not.
    def _orm_store_is_a_token_store(
        store: OrmTokenStore,
    ) -> TokenStore[models.Client, models.AuthorizationCode, models.RefreshToken]:
        return store

SENSITIVE = ("client_secret", "client_assertion", "assertion", "code", "code_verifier", "refresh_token", "token",
             "access_token", "subject_token", "actor_token")


def client_ip(request: HttpRequest) -> str:
    """The client's address, for the throttle and the audit trail.

    REMOTE_ADDR, or behind ``OAUTH_TOKENS["NUM_PROXIES"]`` = N reverse proxies the
    Nth entry from the right of X-Forwarded-For (entries further left are chosen
    by the client). A header with fewer than N entries did not come through all
    N proxies, so its entries are the sender's choice: REMOTE_ADDR then. "" when
    it is not an IP address: a unix socket or a misconfigured proxy may put
    anything there, and the audit column is ``inet``.
    """
    value = request.META.get("REMOTE_ADDR", "") or ""
    proxies = int(token_settings.NUM_PROXIES)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies > 0 and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",")]
        if len(hops) >= proxies:
            value = hops[-proxies]
    try:
        return str(ipaddress.ip_address(value.split("%", 1)[0]))
    except ValueError:
        return ""


def read_body(request: HttpRequest) -> bytes:
    limit = int(token_settings.MAX_BODY_SIZE)
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise InvalidRequest("Invalid Content-Length") from None
    if declared > limit:
        raise InvalidRequest(f"The request body is larger than {limit} bytes", status_code=413)
    try:
        body = request.body
    except REFUSED as exc:  # e.g. DATA_UPLOAD_MAX_MEMORY_SIZE below MAX_BODY_SIZE
        raise as_oauth_error(exc) from None
    if len(body) > limit:
        raise InvalidRequest(f"The request body is larger than {limit} bytes", status_code=413)
    return body


def parse_request(request: HttpRequest, subject_kind: str | None = None) -> TokenRequest:
    if any(name in request.GET for name in SENSITIVE):
        raise InvalidRequest("Credentials and tokens must be sent in the body, not in the URL")
    return TokenRequest.build(
        content_type=request.META.get("CONTENT_TYPE"),
        body=read_body(request),
        authorization=request.META.get("HTTP_AUTHORIZATION", ""),
        client_ip=client_ip(request),
        subject_kind=subject_kind,
    )


def bearer_token(request: HttpRequest) -> str:
    """The token of ``Authorization: Bearer <token>``; a missing or malformed
    header is ``invalid_request`` with the wording token APIs use for it."""
    try:
        token = bearer.token_from(
            request.META.get("HTTP_AUTHORIZATION", ""), query_string=request.META.get("QUERY_STRING", "")
        )
    except InvalidRequest:
        token = None
    if token is None or " " in token:
        raise InvalidRequest("missing/invalid parameters authorization header")
    return token


class OAuthView(View):
    """Renders any ``OAuth2Error``, a 405 and a body Django refuses to read as OAuth
    JSON, never a bare page; every response is ``no-store`` (OPTIONS included)."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = self.answer(request, *args, **kwargs)
        response.setdefault("Cache-Control", "no-store")
        response.setdefault("Pragma", "no-cache")
        return response

    def answer(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            return super().dispatch(request, *args, **kwargs)
        except OAuth2Error as exc:
            return error_response(exc)
        except REFUSED as exc:  # a body or parameters Django refuses to read
            return error_response(as_oauth_error(exc))
        except OperationalError as exc:
            if not transient(exc):
                raise  # a missing table, a broken setup: Django's 500, its logging and reports
            # A lock timeout, a deadlock victim, a dropped connection: the client
            # may retry. A transaction around the view (ATOMIC_REQUESTS) is rolled
            # back, not committed with whatever the request wrote before.
            logger.warning("Database error on %s: answered 503 temporarily_unavailable", request.path,
                           exc_info=True)
            for alias in connections:
                with suppress(TransactionManagementError):  # not in a transaction: nothing to roll back
                    transaction.set_rollback(True, using=alias)
            return error_response(TemporarilyUnavailable())

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = error_response(InvalidRequest(f"Method {request.method} is not allowed", status_code=405))
        # The methods this view implements (OPTIONS included: View.options answers it),
        # from the public http_method_names rather than View's private helper.
        response["Allow"] = ", ".join(m.upper() for m in self.http_method_names if hasattr(self, m))
        return response


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(sensitive_post_parameters(*SENSITIVE), name="dispatch")
class TokenView(OAuthView):
    http_method_names = ["get", "post", "options"]
    #: The parsed request, once its body is read (the metrics label and count by it).
    token_request: TokenRequest | None = None

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        observe = metrics.token_request_observer  # None while the metrics are off
        if observe is None or request.method != "POST":
            return super().dispatch(request, *args, **kwargs)
        return observe(self, super().dispatch, request, *args, **kwargs)

    @method_decorator(sensitive_variables())
    def post(self, request: HttpRequest, token_type: str | None = None) -> HttpResponse:
        token_request = parse_request(request, subject_kind=token_type)
        self.token_request = token_request
        # DPoP (RFC 9449 section 5): a proof binds every access token this request
        # issues, whatever its grant, to the proof's key (``dpop``).
        jkt = dpop.token_request_jkt(request)
        if jkt is not None:
            token_request = dataclasses.replace(token_request, dpop_jkt=jkt)
        store = OrmTokenStore(ip=token_request.client_ip, dpop_jkt=jkt)
        # A refresh request reads its refresh token and that token's client in one
        # query: client authentication (with its throttle and audit) checks that
        # client row, the grant gets that token (OrmTokenStore.read_ahead).
        clients = store.read_ahead(token_request)
        authenticated: list[models.Client] = []

        def authenticate(request: TokenRequest, _store: object) -> models.Client:
            authenticated.append(client_auth.authenticate(request, clients))
            if authenticated[0].dpop_bound_access_tokens and jkt is None:
                raise InvalidDPoPProof("This client must send a DPoP proof with its token requests")
            return authenticated[0]

        try:
            _client, tokens = create_token_response(token_request, store, authenticate)
        except InvalidGrant as exc:
            # A refused refresh: audited and counted (anomaly detection); never the token.
            if authenticated and token_request.get("grant_type") == "refresh_token" and exc.reason != "anomaly":
                failed_refreshes.record(authenticated[0], store.refresh_token_seen, exc.reason,
                                        token_request.client_ip)
            raise
        return json_response(tokens.to_dict(), headers=dpop.response_headers() if jkt is not None else None)

    @method_decorator(sensitive_variables())
    def get(self, request: HttpRequest, token_type: str | None = None) -> HttpResponse:
        if token_type is not None:
            return self.http_method_not_allowed(request)
        token, claims, token_type = dpop.presented_token(request, bearer_token)
        remaining = claims["exp"] - models.now().timestamp()
        if remaining <= 0:
            # Verification allows clock-skew leeway; the issuer answering about
            # its own token does not: past ``exp`` it is expired.
            raise InvalidToken("The access token has expired")
        return json_response({"access_token": token, "token_type": token_type, "expires_in": int(remaining)})
