"""Protected resource metadata (RFC 9728): the document that tells a client which
authorization servers issue tokens for this resource server, and where it lives.

Served when ``OAUTH_TOKENS["RESOURCE"]`` (this resource server's identifier)
is set, at the URL RFC 9728 section 3.1 derives from it: ``/.well-known/
oauth-protected-resource`` inserted between the host and the path, so
``https://api.example.com`` has its document at
``https://api.example.com/.well-known/oauth-protected-resource`` and
``https://example.com/mcp`` at
``https://example.com/.well-known/oauth-protected-resource/mcp``. Any other
path, or no ``RESOURCE``, is an OAuth JSON 404. The ``resource`` member is the
identifier itself, which a client compares with the URL it started from
(section 3.3). Mount at the site root, in local or remote mode alike:
``path("", include("oauth_tokens.resource.urls"))``.

The same URL goes into every Bearer challenge (``resource_metadata=``,
section 5.1) through ``challenge``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from oauth_tokens.oauth2 import dpop
from oauth_tokens.oauth2.errors import InvalidRequest, OAuth2Error
from oauth_tokens.responses import error_response, json_response
from oauth_tokens.settings import token_settings

WELL_KNOWN = "/.well-known/oauth-protected-resource"
#: Public and cacheable, as the authorization server's metadata.
CACHE_CONTROL = "public, max-age=300"
#: RFC 6750 section 2 methods this server accepts (``oauth2.bearer``: the header only).
BEARER_METHODS = ["header"]


def resource_identifier() -> str | None:
    """``OAUTH_TOKENS["RESOURCE"]``, None when this server has no identifier."""
    return token_settings.RESOURCE or None


def path_of(resource: str) -> str:
    """The identifier's path as inserted after the well-known suffix: "" for a bare
    origin (a lone terminating slash is removed, section 3.1)."""
    path = urlsplit(resource).path
    return "" if path == "/" else path


def metadata_url(resource: str | None = None) -> str:
    """The metadata URL of ``resource`` (default: ours), RFC 9728 section 3.1."""
    resource = resource or resource_identifier()
    if not resource:
        return ""
    parts = urlsplit(resource)
    return f"{parts.scheme}://{parts.netloc}{WELL_KNOWN}{path_of(resource)}"


def authorization_servers() -> list[str]:
    configured = token_settings.RESOURCE_AUTHORIZATION_SERVERS
    if configured is not None:
        return list(configured)
    return [token_settings.issuer] if token_settings.ISSUER else []


def protected_resource_metadata() -> dict[str, Any]:
    """RFC 9728 section 2: ``resource`` (required) and the members that apply here.
    No ``jwks_uri`` (this server signs no responses) and no signing algorithms."""
    resource = resource_identifier()
    if not resource:
        raise InvalidRequest("This server has no protected resource metadata", status_code=404)
    scopes = token_settings.RESOURCE_SCOPES
    body: dict[str, Any] = {
        "resource": resource,
        "authorization_servers": authorization_servers(),
        "scopes_supported": list(token_settings.SCOPES) if scopes is None else list(scopes),
        "bearer_methods_supported": BEARER_METHODS,
        # RFC 9728 section 2: DPoP-bound tokens are accepted with proofs signed so (RFC 9449).
        "dpop_signing_alg_values_supported": list(dpop.ALGORITHMS),
    }
    if token_settings.RESOURCE_NAME:
        body["resource_name"] = token_settings.RESOURCE_NAME
    if token_settings.RESOURCE_DOCUMENTATION:
        body["resource_documentation"] = token_settings.RESOURCE_DOCUMENTATION
    return body


def challenge(error: OAuth2Error) -> OAuth2Error:
    """``error`` with its Bearer challenge pointing to our metadata, when we have an
    identifier (RFC 9728 section 5.1). The one place the resource side adds it."""
    url = metadata_url()
    if url:
        error.resource_metadata = url
    return error


@method_decorator(csrf_exempt, name="dispatch")  # read-only: a write is the OAuth 405, not the CSRF page
class ProtectedResourceMetadataView(View):
    http_method_names = ["get", "head", "options"]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            return super().dispatch(request, *args, **kwargs)
        except OAuth2Error as exc:
            return error_response(exc)

    def get(self, request: HttpRequest, resource_path: str | None = None) -> HttpResponse:
        resource = resource_identifier()
        requested = "" if resource_path is None else "/" + resource_path
        if not resource or requested != path_of(resource):
            raise InvalidRequest("No protected resource has this identifier", status_code=404)
        response = json_response(protected_resource_metadata())
        response["Cache-Control"] = CACHE_CONTROL
        del response["Pragma"]
        return response

    def options(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = super().options(request, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        return response

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = error_response(InvalidRequest(f"Method {request.method} is not allowed", status_code=405))
        response["Allow"] = "GET, HEAD, OPTIONS"
        return response
