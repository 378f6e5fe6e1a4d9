"""Admin: clients (secret shown once, on a page rendered directly, never stored
in messages or sessions), tokens by client / user / family / state with revoke
actions, keys and the audit trail. No token value or digest is ever displayed."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db.models import Q
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from oauth_tokens.provider import revocation
from oauth_tokens.provider.models import (
    GRANT_TYPES,
    AccessToken,
    AuthorizationCode,
    Client,
    RefreshToken,
    SigningKey,
    TokenEvent,
    now,
)
from oauth_tokens.provider.stores import revoke_family


class ClientForm(forms.ModelForm):
    grant_types = forms.MultipleChoiceField(choices=GRANT_TYPES, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = Client
        fields = [
            "name", "client_type", "grant_types", "redirect_uris", "scope",
            "access_token_lifetime", "refresh_token_lifetime", "owner", "is_active",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance and self.instance.pk:
            self.initial["grant_types"] = self.instance.grant_type_list

    def clean_grant_types(self) -> str:
        return " ".join(self.cleaned_data["grant_types"])

    def clean_redirect_uris(self) -> str:
        from oauth_tokens.provider.validators import validate_redirect_uris

        return validate_redirect_uris(self.cleaned_data["redirect_uris"])

    def clean(self):
        cleaned = super().clean()
        grants = (cleaned.get("grant_types") or "").split()
        if cleaned.get("client_type") == Client.PUBLIC and "client_credentials" in grants:
            self.add_error("grant_types", _("Public clients cannot use client_credentials."))
        if "authorization_code" in grants and not cleaned.get("redirect_uris"):
            self.add_error("redirect_uris", _("The authorization code grant needs at least one redirect URI."))
        return cleaned


def _show_secrets(modeladmin, request, clients_and_secrets, title):
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "opts": modeladmin.model._meta,
        "rows": clients_and_secrets,
    }
    response = TemplateResponse(request, "admin/oauth_tokens_provider/client_secret.html", context)
    response["Cache-Control"] = "no-store"
    return response


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    form = ClientForm
    list_display = ["name", "client_id", "client_type", "grant_types", "is_active", "created_at"]
    list_filter = ["client_type", "is_active"]
    search_fields = ["name", "client_id"]
    readonly_fields = ["client_id", "created_at", "updated_at"]
    actions = ["regenerate_secret", "deactivate"]

    def save_model(self, request, obj, form, change):
        if not change and obj.is_confidential:
            obj._new_secret = obj.set_secret()
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data and not obj.is_active:
            revocation.revoke_client(obj)

    def response_add(self, request, obj, post_url_continue=None):
        secret = getattr(obj, "_new_secret", None)
        if secret:
            return _show_secrets(self, request, [(obj, secret)], _("Client created: copy its secret now"))
        return super().response_add(request, obj, post_url_continue)

    @admin.action(description=_("Regenerate secret (the old one stops working)"))
    def regenerate_secret(self, request, queryset):
        rows = []
        for client in queryset.filter(client_type=Client.CONFIDENTIAL):
            secret = client.set_secret()
            client.save(update_fields=["secret_digest", "updated_at"])
            rows.append((client, secret))
        if not rows:
            self.message_user(request, _("Public clients have no secret."))
            return None
        return _show_secrets(self, request, rows, _("New secrets: copy them now"))

    @admin.action(description=_("Deactivate and revoke all their tokens"))
    def deactivate(self, request, queryset):
        for client in queryset:
            client.is_active = False
            client.save(update_fields=["is_active", "updated_at"])
            revocation.revoke_client(client)
        self.message_user(request, _("Deactivated %(n)d client(s).") % {"n": queryset.count()})


class StateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        choices = [("active", _("Active")), ("expired", _("Expired")), ("revoked", _("Revoked"))]
        if model_admin.model is RefreshToken:
            choices.insert(1, ("rotated", _("Rotated (used)")))
        return choices

    def queryset(self, request, queryset):
        value, t = self.value(), now()
        rotated = Q(used_at__isnull=False) if queryset.model is RefreshToken else Q(pk__in=[])
        if value == "active":
            return queryset.filter(revoked_at__isnull=True, expires_at__gt=t).exclude(rotated)
        if value == "rotated":
            return queryset.filter(rotated, revoked_at__isnull=True)
        if value == "expired":
            return queryset.filter(revoked_at__isnull=True, expires_at__lte=t)
        if value == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


class TokenAdmin(admin.ModelAdmin):
    list_filter = [StateFilter, "client", "created_at"]
    search_fields = ["=family", "user__username", "client__name", "=client__client_id"]
    list_select_related = ["client", "user"]
    actions = ["revoke_selected", "revoke_families"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("state"))
    def state_display(self, obj):
        return obj.state

    @admin.display(description=_("family"))
    def family_link(self, obj):
        return str(obj.family) if obj.family else "-"

    @admin.action(description=_("Revoke selected tokens"))
    def revoke_selected(self, request, queryset):
        n = revocation.revoke_rows(queryset)
        self.message_user(request, _("Revoked %(n)d token(s).") % {"n": n})

    @admin.action(description=_("Revoke the whole family of the selected tokens"))
    def revoke_families(self, request, queryset):
        families = {f for f in queryset.values_list("family", flat=True) if f}
        for row in queryset.filter(family__in=families).select_related("client", "user").distinct():
            if row.family in families:
                families.discard(row.family)
                revoke_family(row.family, client=row.client, user=row.user, reason="admin")
        self.message_user(request, _("Revoked the selected families."))


@admin.register(RefreshToken)
class RefreshTokenAdmin(TokenAdmin):
    list_display = ["id", "client", "user", "family_link", "state_display", "created_at", "expires_at"]
    fields = ["client", "user", "family", "parent", "scope", "created_at", "expires_at", "used_at", "revoked_at"]
    readonly_fields = fields


@admin.register(AccessToken)
class AccessTokenAdmin(TokenAdmin):
    list_display = ["jti", "client", "user", "scope", "family_link", "state_display", "created_at", "expires_at"]
    fields = ["jti", "client", "user", "scope", "family", "refresh_token", "created_at", "expires_at", "revoked_at"]
    readonly_fields = fields
    search_fields = [*TokenAdmin.search_fields, "=jti"]


@admin.register(AuthorizationCode)
class AuthorizationCodeAdmin(admin.ModelAdmin):
    list_display = ["id", "client", "user", "scope", "created_at", "expires_at", "used_at"]
    list_filter = ["client"]
    fields = ["client", "user", "redirect_uri", "scope", "code_challenge_method", "family",
              "created_at", "expires_at", "used_at"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SigningKey)
class SigningKeyAdmin(admin.ModelAdmin):
    list_display = ["kid", "algorithm", "created_at", "retired_at", "is_current"]
    fields = ["kid", "algorithm", "public_jwk", "created_at", "retired_at"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(TokenEvent)
class TokenEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "kind", "client_identifier", "user", "ip_address", "family", "detail"]
    list_filter = ["kind", "created_at"]
    search_fields = ["=client_identifier", "=family", "user__username", "=ip_address"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
