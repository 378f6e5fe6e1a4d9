"""Four equivalent views: each answers ``{"sub", "scope"}`` of the presented token.

Only the authentication (and the matching scope permission) differs, so the
difference in cost between them is the cost of authenticating.
"""

from __future__ import annotations

from oauth2_provider.contrib.rest_framework import OAuth2Authentication, TokenHasScope
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.authentication import JWTAuthentication

from oauth_tokens.resource.authentication import BearerTokenAuthentication
from oauth_tokens.resource.permissions import HasScope


class PlainView(APIView):
    """No authentication at all: the physical limit of a DRF view on this stack."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request):
        return Response({"sub": "anonymous", "scope": ""})


class OursView(APIView):
    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [HasScope]
    required_scopes = ["read"]

    def get(self, request):
        token = request.auth
        return Response({"sub": token.claims["sub"], "scope": token.scope})


class DotView(APIView):
    authentication_classes = [OAuth2Authentication]
    permission_classes = [TokenHasScope]
    required_scopes = ["read"]

    def get(self, request):
        token = request.auth
        return Response({"sub": str(token.user_id), "scope": token.scope})


class ClaimHasScope(BasePermission):
    """simplejwt has no scope permission; this checks a ``scope`` claim the same way."""

    def has_permission(self, request, view) -> bool:
        token = request.auth
        return token is not None and "read" in str(token.get("scope", "")).split()


class SimpleJwtView(APIView):
    authentication_classes = [JWTAuthentication]
    permission_classes = [ClaimHasScope]

    def get(self, request):
        token = request.auth
        return Response({"sub": str(token["user_id"]), "scope": token.get("scope", "")})
