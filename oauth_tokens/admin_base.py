"""What the app's admin screens share: rows shown, never added or edited there.

Tokens, codes, signing keys and the audit trail are written by the token
endpoints and the commands, not typed in; an admin may look, revoke through
the actions, and delete where ``deletable`` says so.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.utils.html import format_html
from django.utils.safestring import SafeString


def short_id(value: Any, *, link: bool = False) -> SafeString | str:
    """An id in a list column: its last six characters, the whole id on hover (and
    on the row's page). The last ones, because token ids and families are
    time-ordered UUIDs whose first characters are the same for rows made the same
    minute. ``link``: a link that lists the rows of that id (the admin's search)."""
    if not value:
        return "-"
    text = str(value)
    if link:
        return format_html('<a href="?q={}" title="{}">\u2026{}</a>', text, text, text[-6:])
    return format_html('<span title="{}">\u2026{}</span>', text, text[-6:])


class ViewOnlyAdmin(admin.ModelAdmin):
    #: Whether rows may be deleted here (with Django's delete permission).
    deletable = False

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return self.deletable and super().has_delete_permission(request, obj)
