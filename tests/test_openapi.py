"""The OpenAPI description shipped in the package (``oauth_tokens/openapi.json``)
matches the URL confs both ways, and is valid OpenAPI 3.

A route added to a URL conf without its description, or a described path that
no longer resolves, fails here; so does a described method the view refuses
with 405 or a method the view serves that the document does not list.
"""

from __future__ import annotations

import json
import re
from importlib import import_module
from importlib.resources import files

import pytest
from django.urls import Resolver404, resolve
from openapi_spec_validator import validate

from example_project.demo.openapi import document, package_document
from oauth_tokens.settings import token_settings

#: The URL confs and where the docs mount them (docs/reference.md, "Endpoints").
MOUNTS = {
    "oauth_tokens.provider.urls": "/oauth/",
    "oauth_tokens.provider.well_known_urls": "/",
    "oauth_tokens.consumer.urls": "/oauth/",
    "oauth_tokens.resource.urls": "/",
}
#: A value for each path parameter that reaches the view (the test settings'
#: issuer has no path, so ``issuer_path`` reaches the view and answers 404 JSON).
SAMPLES = {"token_type": "client", "issuer_path": "tenant", "provider": "self", "resource_path": "mcp",
           "client_id": "no-such-client"}
METHODS = ("get", "post", "put", "patch", "delete")


def routes() -> set[str]:
    """Every route of the URL confs, as OpenAPI paths (``<str:x>`` -> ``{x}``)."""
    found = set()
    for module, prefix in MOUNTS.items():
        for pattern in import_module(module).urlpatterns:
            found.add(as_openapi(prefix + str(pattern.pattern)))
    return found


def as_openapi(route: str) -> str:
    """``<str:x>`` -> ``{x}``; a regex route (``^...(?P<x>...)...\\Z``) the same way."""
    if route.startswith("/^") or "(?P<" in route:
        route = route.replace("^", "").replace("\\Z", "").replace("$", "").replace("\\.", ".")
        route = re.sub(r"\(\?P<(\w+)>(?:[^()]|\([^()]*\))*\)", r"{\1}", route)
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)


def concrete(path: str) -> str:
    return re.sub(r"{(\w+)}", lambda m: SAMPLES[m.group(1)], path)


def test_the_shipped_document_is_valid_openapi_3():
    doc = package_document()
    validate(doc)
    assert doc["openapi"].startswith("3.")


def test_the_document_is_a_file_of_the_package():
    raw = (files("oauth_tokens") / "openapi.json").read_text(encoding="utf-8")
    assert json.loads(raw) == package_document()


def test_every_route_of_the_url_confs_is_described():
    described = set(package_document()["paths"])
    missing = routes() - described
    assert not missing, f"routes without a description: {sorted(missing)}"


def test_every_described_path_is_a_route_of_the_url_confs():
    extra = set(package_document()["paths"]) - routes()
    assert not extra, f"described paths that no URL conf serves: {sorted(extra)}"


@pytest.mark.parametrize("path", sorted(package_document()["paths"]))
def test_every_described_path_resolves_in_the_example_project(path):
    try:
        match = resolve(concrete(path))
    except Resolver404:
        pytest.fail(f"{path} does not resolve")
    assert as_openapi("/" + match.route) == path, f"{path} resolves to another route, {match.route}"


@pytest.mark.django_db
def test_described_methods_are_served_and_others_refused(client, user):
    """Through the example project, logged in: a described method never answers
    405, an undescribed one always does (function views included)."""
    client.force_login(user)
    for path, item in package_document()["paths"].items():
        url = concrete(path)
        for method in METHODS:
            status = getattr(client, method)(url).status_code
            if method in item:
                assert status != 405, f"{method.upper()} {path} is described but answers 405"
            else:
                assert status == 405, f"{method.upper()} {path} is not described but answers {status}"


@pytest.mark.django_db
def test_the_example_project_serves_the_document_with_its_own_api(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    served = response.json()
    validate(served)
    assert served["servers"] == [{"url": token_settings.issuer}]
    assert set(served["paths"]) == set(package_document()["paths"]) | {"/api/me"}
    assert resolve("/api/me").func.view_class.__name__ == "MeView"
    assert served == document()


def test_every_oauth_error_code_the_package_can_answer_is_in_the_document():
    """Each ``error`` an ``OAuth2Error`` subclass declares is listed in the OAuthError schema,
    so that a client validating answers against the document accepts every one of them."""
    from tests.error_codes import oauth_error_codes

    codes = oauth_error_codes()
    listed = set(package_document()["components"]["schemas"]["OAuthError"]["properties"]["error"]["enum"])
    assert codes - listed == set()
