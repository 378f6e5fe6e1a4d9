"""Admin screens of tokens and codes: list and filter by client, user, family and
state (active / rotated / expired / revoked, as ``token_state`` defines them);
actions "revoke selected" and "revoke family". Rows are read-only and never
show a token value or digest.

Revocation is a flag on a row, so deleting rows here first makes sure nothing
comes back to life: deleted live access tokens stay refused
(``revocation.revoke_before_delete``), and deleting a refresh token revokes
its family.
"""

from __future__ import annotations

from django.contrib import admin
from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from oauth_tokens.admin_base import ViewOnlyAdmin, short_id
from oauth_tokens.provider import revocation
from oauth_tokens.provider.models import AccessToken, AuthorizationCode, DeviceCode, RefreshToken, TokenEvent
from oauth_tokens.provider.token_state import TokenState


def audit(request, client, user=None, *, family=None, detail: str) -> None:
    TokenEvent.objects.create(
        kind=TokenEvent.REVOKED,
        client=client,
        client_identifier=client.client_id if client else "",
        user=user,
        family=family,
        ip_address=request.META.get("REMOTE_ADDR") or None,
        detail=detail[:255],
    )


def compact_time(value):
    """A date and time in 16 characters, the project's full format on hover: the
    token lists keep every column in view at 1,280 px beside the admin's menus."""
    if value is None:
        return "-"
    local = timezone.localtime(value)
    return format_html('<span class="nowrap" title="{}">{}</span>', date_format(local, "DATETIME_FORMAT"),
                       local.strftime("%Y-%m-%d %H:%M"))


class StateFilter(admin.SimpleListFilter):
    """The states of ``token_state``, under their TokenState labels."""

    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [(state.value, state.label) for state in model_admin.model.objects.states()]

    def queryset(self, request, queryset):
        if self.value() not in TokenState.values:
            return queryset
        return queryset.in_state(self.value())


class TokenAdmin(ViewOnlyAdmin):
    list_filter = [StateFilter, "client", "created_at"]
    search_fields = ["=family", "user__username", "client__name", "=client__client_id"]
    list_select_related = ["client", "user"]
    actions = ["revoke_selected", "revoke_families"]
    date_hierarchy = "created_at"
    deletable = True

    @admin.display(description=_("state"))
    def state_display(self, obj):
        return obj.state

    @admin.display(description=_("expires at"), ordering="expires_at")
    def expires(self, obj):
        return compact_time(obj.expires_at)

    @admin.display(description=_("family"))
    def family_link(self, obj):
        """The family, short, linking to every token of the family."""
        return short_id(obj.family, link=True)

    def delete_model(self, request, obj):
        self.delete_queryset(request, self.model.objects.filter(pk=obj.pk))

    @admin.action(description=_("Revoke selected tokens"))
    def revoke_selected(self, request, queryset):
        n = self.revoke_rows(request, queryset)
        self.message_user(request, _("Revoked %(n)d token(s).") % {"n": n})

    @admin.action(description=_("Revoke the whole family of the selected tokens"))
    def revoke_families(self, request, queryset):
        seen, lone = set(), []
        for row in queryset.select_related("client", "user"):
            if row.family is None:
                lone.append(row.pk)  # client_credentials tokens have no family
            elif row.family not in seen:
                seen.add(row.family)
                revocation.revoke_family(row.family, client=row.client, user=row.user, reason="admin")
        n = self.revoke_rows(request, self.model.objects.filter(pk__in=lone)) if lone else 0
        self.message_user(
            request, _("Revoked %(f)d famil(ies) and %(n)d token(s) without one.") % {"f": len(seen), "n": n}
        )

    def revoke_rows(self, request, queryset) -> int:
        rows = list(queryset.filter(revoked_at__isnull=True).select_related("client", "user"))
        ids = [r.pk for r in rows]
        with transaction.atomic():
            n = revocation.revoke_rows(self.model.objects.filter(pk__in=ids))
            if self.model is RefreshToken:
                # RFC 7009 2.1: revoking a refresh token also invalidates the access tokens issued with it.
                revocation.revoke_rows(AccessToken.objects.filter(refresh_token__in=ids))
                RefreshToken.objects.filter(pk__in=ids).update(successor_response="")
            who = request.user.get_username()
            for row in rows:
                audit(request, row.client, row.user, family=row.family,
                      detail=f"{self.model._meta.verbose_name} #{row.pk} revoked in the admin by {who}")
        return n


@admin.register(RefreshToken)
class RefreshTokenAdmin(TokenAdmin):
    # State and expiry first, ids and times short: every column in view at 1,280 px
    # (its creation and its family's end are on the token's page; the date filter
    # above the list is by creation).
    list_display = ["id", "state_display", "expires", "client", "user", "family_link"]
    fields = readonly_fields = (
        "client", "user", "family", "parent", "scope", "resources", "created_at", "expires_at", "family_started_at",
        "family_ends", "used_at", "grace_replays", "revoked_at",
    )

    @admin.display(description=_("family ends"))
    def family_ends(self, obj):
        """The family's start plus its client's absolute lifetime, as it applies now."""
        return obj.family_expires_at()

    def delete_queryset(self, request, queryset):
        # A rotated tombstone is what detects the reuse of a stolen token:
        # forgetting it means ending its grant.
        with transaction.atomic():
            families = {row.family: row for row in queryset.select_related("client", "user")}
            for family, row in families.items():
                revocation.revoke_family(family, client=row.client, user=row.user, reason="admin")
            queryset.delete()


@admin.register(AccessToken)
class AccessTokenAdmin(TokenAdmin):
    # The same for access tokens, with a short scope.
    list_display = ["short_jti", "state_display", "expires", "client", "user", "short_scope", "family_link"]
    fields = readonly_fields = (
        "jti", "client", "user", "scope", "family", "refresh_token", "ip_address", "created_at", "expires_at",
        "revoked_at",
    )
    search_fields = [*TokenAdmin.search_fields, "=jti"]

    @admin.display(description=_("scope"), ordering="scope")
    def short_scope(self, obj):
        """Up to 20 characters of the scope (the whole of it on hover and on the token's page)."""
        shown = obj.scope if len(obj.scope) <= 20 else obj.scope[:19] + "…"
        return format_html('<span class="nowrap" title="{}">{}</span>', obj.scope, shown)

    @admin.display(description=_("jti"), ordering="jti")
    def short_jti(self, obj):
        return short_id(obj.jti)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            revocation.revoke_before_delete(queryset)  # the row is what keeps a revoked token revoked
            queryset.delete()


@admin.register(AuthorizationCode)
class AuthorizationCodeAdmin(ViewOnlyAdmin):
    list_display = ["id", "client", "user", "scope", "created_at", "expires_at", "used_at"]
    list_filter = ["client"]
    fields = readonly_fields = (
        "client", "user", "redirect_uri", "scope", "resources", "code_challenge_method", "family",
        "created_at", "expires_at", "used_at",
    )
    deletable = True


@admin.register(DeviceCode)
class DeviceCodeAdmin(ViewOnlyAdmin):
    """Device authorization requests (RFC 8628): who started which, and what became of it.
    The codes themselves are stored as digests and never shown."""

    list_display = ["id", "status", "client", "user", "scope", "created_at", "expires_at", "last_polled_at"]
    list_filter = ["status", "client"]
    search_fields = ["client__name", "client__client_id", "user__username"]
    fields = readonly_fields = (
        "client", "user", "scope", "status", "interval", "family", "created_at", "expires_at",
        "last_polled_at", "auth_time",
    )
    deletable = True
