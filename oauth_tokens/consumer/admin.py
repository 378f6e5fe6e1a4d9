"""Admin for stored external tokens: provider, user, status, expiry, never a
token and no DPoP private key (not even ciphertext); a DPoP grant's public key
thumbprint is shown. Actions: "Refresh now" and "Revoke"."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from oauth_tokens.consumer import service
from oauth_tokens.consumer.exceptions import ConsumerError
from oauth_tokens.consumer.models import ExternalToken

SHOWN = (
    "provider",
    "user",
    "status",
    "token_type",
    "dpop_jkt",
    "scope",
    "obtained_at",
    "expires_at",
    "refresh_expires_at",
    "refresh_count",
    "last_error",
    "created_at",
    "updated_at",
)


@admin.register(ExternalToken)
class ExternalTokenAdmin(admin.ModelAdmin):
    list_display = ("provider", "user", "status", "expires_at", "refresh_expires_at", "refresh_count", "updated_at")
    list_filter = ("provider", "status")
    search_fields = ("provider", "user__username", "user__email")
    list_select_related = ("user",)
    fields = SHOWN
    readonly_fields = SHOWN
    actions = ["refresh_now", "revoke_selected"]

    def get_queryset(self, request):
        # The token columns are never loaded, so nothing can render them.
        return super().get_queryset(request).defer("access_token", "refresh_token", "dpop_key")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        # Every field is read-only: a row's page is a view ("View external token",
        # no Save buttons). The change permission still allows the list's actions.
        return obj is None and super().has_change_permission(request)

    def _run(self, request, queryset, func, done: str) -> None:
        ok, failed = 0, []
        for provider, user_id in queryset.values_list("provider", "user_id"):
            try:
                func(provider, user_id)
                ok += 1
            except ConsumerError as exc:
                failed.append(str(exc))
        if ok:
            self.message_user(request, ngettext("%(n)d token %(done)s.", "%(n)d tokens %(done)s.", ok)
                              % {"n": ok, "done": done}, messages.SUCCESS)
        for message in failed:
            self.message_user(request, message, messages.ERROR)

    @admin.action(description=_("Refresh now"), permissions=["change"])
    def refresh_now(self, request, queryset):
        self._run(request, queryset, lambda provider, user: service.refresh_access_token(provider, user), "refreshed")

    @admin.action(description=_("Revoke (at the provider, then delete locally)"), permissions=["change"])
    def revoke_selected(self, request, queryset):
        self._run(request, queryset, service.revoke, "revoked")
