"""A small Model Context Protocol server at ``/mcp``, protected by this site's tokens.

It shows what a Django project needs to serve MCP clients (docs/mcp.md): the
endpoint is an ordinary DRF view, so ``BearerTokenAuthentication`` answers an
unauthenticated call with ``401`` and ``WWW-Authenticate: Bearer
resource_metadata="..."`` (RFC 9728), from which an MCP client discovers this
authorization server, registers, and runs the code flow with PKCE and
``resource``. A tool that needs more than the token carries answers ``403
insufficient_scope`` with the scope it needs, and the client steps up.

The transport is MCP's Streamable HTTP in its JSON form (one POSTed JSON-RPC
message, one JSON answer, no event stream, no session), which every MCP
client speaks; the handshake-era protocol versions (``initialize``) only. A
real server would use an MCP library for the protocol and keep the same
authentication and scope checks.

Tools: ``whoami`` (scope ``read``): who the token speaks for; ``save_note``
(scope ``write``): echoes the note it would save.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest
from django.http.request import validate_host
from rest_framework import status
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from oauth_tokens.resource.permissions import insufficient
from oauth_tokens.resource.tokens import AccessToken

#: The handshake-era versions this server answers (newest first).
PROTOCOL_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26")
SERVER_INFO = {"name": "oauth-tokens-demo", "version": "1.0"}

#: name -> (scope it needs, description, input schema)
TOOLS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "whoami": ("read", "Who the presented access token speaks for.", {"type": "object", "properties": {}}),
    "save_note": ("write", "Save a note (the demo only echoes it).",
                  {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}),
}

# JSON-RPC 2.0 error codes
INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS = -32600, -32601, -32602


def rpc_error(message_id: Any, code: int, message: str) -> Response:
    return Response({"jsonrpc": "2.0", "id": message_id, "error": {"code": code, "message": message}})


def rpc_result(message_id: Any, result: dict[str, Any]) -> Response:
    return Response({"jsonrpc": "2.0", "id": message_id, "result": result})


def origin_allowed(request: HttpRequest) -> bool:
    """MCP's DNS rebinding rule: a browser's ``Origin`` must be this site's (ALLOWED_HOSTS)."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    host = urlsplit(origin).hostname or ""
    allowed = settings.ALLOWED_HOSTS or (["localhost", "127.0.0.1", "[::1]"] if settings.DEBUG else [])
    return validate_host(host, allowed)


class McpView(APIView):
    """POST /mcp: one JSON-RPC message in, one answer out (202 for a notification)."""

    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    def post(self, request):
        if not origin_allowed(request):
            return Response({"error": "forbidden", "error_description": "Origin not allowed"},
                            status=status.HTTP_403_FORBIDDEN)
        message = request.data
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0" or not isinstance(
                message.get("method"), str):
            return rpc_error(None, INVALID_REQUEST, "Expected one JSON-RPC 2.0 message")
        if "id" not in message:  # a notification (notifications/initialized, cancellations)
            return Response(status=status.HTTP_202_ACCEPTED)
        message_id, method = message["id"], message["method"]
        params = message.get("params") if isinstance(message.get("params"), dict) else {}
        if method == "initialize":
            asked = params.get("protocolVersion")
            version = asked if asked in PROTOCOL_VERSIONS else PROTOCOL_VERSIONS[0]
            return rpc_result(message_id, {"protocolVersion": version, "capabilities": {"tools": {}},
                                           "serverInfo": SERVER_INFO})
        if method == "ping":
            return rpc_result(message_id, {})
        if method == "tools/list":
            return rpc_result(message_id, {"tools": [
                {"name": name, "description": description, "inputSchema": schema}
                for name, (_, description, schema) in TOOLS.items()]})
        if method == "tools/call":
            return self.call_tool(message_id, params, request.auth)
        return rpc_error(message_id, METHOD_NOT_FOUND, f"Unknown method {method!r}")

    def call_tool(self, message_id: Any, params: dict[str, Any], token: AccessToken) -> Response:
        name, arguments = params.get("name"), params.get("arguments") or {}
        if name not in TOOLS or not isinstance(arguments, dict):
            return rpc_error(message_id, INVALID_PARAMS, f"Unknown tool {name!r}")
        needed = TOOLS[name][0]
        if not token.has_scope(needed):
            # An HTTP 403 with the scope in the challenge: the client re-authorizes for it.
            raise insufficient([needed])
        if name == "whoami":
            answer = {"sub": token.subject, "client_id": token.client_id, "scope": token.scope}
        else:
            text = arguments.get("text")
            if not isinstance(text, str):
                return rpc_error(message_id, INVALID_PARAMS, "save_note needs a string 'text'")
            answer = {"saved": text}
        return rpc_result(message_id, {"content": [{"type": "text", "text": json.dumps(answer)}],
                                       "structuredContent": answer, "isError": False})
