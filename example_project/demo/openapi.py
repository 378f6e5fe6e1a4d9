"""GET /openapi.json: the package's OpenAPI description (shipped as
``oauth_tokens/openapi.json``) plus this project's own protected API, ``/api/me``."""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib.resources import files
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from oauth_tokens.settings import token_settings

ME = {
    "get": {
        "tags": ["example"],
        "operationId": "apiMe",
        "summary": "Example protected API (scope read): who the presented token speaks for",
        "security": [{"bearer": []}],
        "responses": {
            "200": {
                "description": "The token's subject, client and scope.",
                "content": {"application/json": {"schema": {
                    "type": "object", "required": ["sub", "client_id", "scope"],
                    "properties": {"sub": {"type": "string"}, "client_id": {"type": "string"},
                                   "scope": {"type": "string"}},
                }}},
            },
            "401": {"$ref": "#/components/responses/BearerError401"},
            "403": {"$ref": "#/components/responses/Error403"},
            "405": {"$ref": "#/components/responses/Error405"},
        },
    },
}


@cache
def package_document() -> dict[str, Any]:
    """The document the package ships (the endpoints of its URL confs)."""
    return json.loads((files("oauth_tokens") / "openapi.json").read_text(encoding="utf-8"))


def document() -> dict[str, Any]:
    """The package's document, on this server's issuer, with /api/me."""
    doc = copy.deepcopy(package_document())
    doc["servers"] = [{"url": token_settings.issuer}]
    doc["tags"].append({"name": "example", "description": "The example project's own API."})
    doc["paths"]["/api/me"] = ME
    return doc


@require_GET
def openapi_json(request: HttpRequest) -> JsonResponse:
    return JsonResponse(document(), json_dumps_params={"indent": 1})
