"""Scope permissions: declare ``required_scopes`` on the view."""

from __future__ import annotations

from rest_framework import permissions

from oauth_tokens.resource.tokens import VerifiedToken


class HasScope(permissions.BasePermission):
    """Every scope in the view's ``required_scopes`` must be in the token."""

    message = "The access token does not carry the required scope"
    code = "insufficient_scope"

    def has_permission(self, request, view) -> bool:
        token = request.auth
        if not isinstance(token, VerifiedToken):
            return False
        return token.has_scope(*getattr(view, "required_scopes", ()))
