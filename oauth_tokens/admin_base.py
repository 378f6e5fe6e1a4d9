"""What the app's admin screens share: rows shown, never added or edited there.

Tokens, codes, signing keys and the audit trail are written by the token
endpoints and the commands, not typed in; an admin may look, revoke through
the actions, and delete where ``deletable`` says so.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin


class ViewOnlyAdmin(admin.ModelAdmin):
    #: Whether rows may be deleted here (with Django's delete permission).
    deletable = False

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return self.deletable and super().has_delete_permission(request, obj)
