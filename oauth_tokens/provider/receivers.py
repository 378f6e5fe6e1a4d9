"""Revoke tokens when their user or client stops being trustworthy.

- a user is deactivated (``is_active`` True -> False) or gets a new password;
- a user logs out, when ``REVOKE_TOKENS_ON_LOGOUT`` is on (RFC 9700 section 2.2.2);
- a client is deactivated;
- a user or client is deleted: their rows go, so the ids of their live access
  tokens are kept as ``RevokedToken`` until those tokens expire.

Changes made with ``QuerySet.update()`` send no signals: call
``revocation.revoke_user`` / ``revoke_client`` yourself after one.
Connected in ``AppConfig.ready()``.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import post_init, post_save, pre_delete

from oauth_tokens.provider import revocation
from oauth_tokens.provider.models import AccessToken, Client
from oauth_tokens.settings import token_settings

_STATE = "_oauth_tokens_state"


def _remember(instance: Any, **kwargs: Any) -> None:
    # Only fields already loaded: reading a deferred one here would cost a query.
    values = instance.__dict__
    setattr(instance, _STATE, (values.get("password"), values.get("is_active")))


def _changed(instance: Any, update_fields) -> tuple[bool, bool]:
    """(deactivated, password changed) since the instance was loaded or last saved."""
    old_password, old_active = getattr(instance, _STATE, (None, None))
    values = instance.__dict__
    fields = set(update_fields) if update_fields is not None else None
    deactivated = (
        old_active is True and values.get("is_active") is False and (fields is None or "is_active" in fields)
    )
    new_password = values.get("password")
    password_changed = (
        old_password is not None and new_password is not None and new_password != old_password
        and (fields is None or "password" in fields)
    )
    return deactivated, password_changed


def _user_saved(instance: Any, created: bool, update_fields=None, **kwargs: Any) -> None:
    if not created:
        deactivated, password_changed = _changed(instance, update_fields)
        if deactivated:
            revocation.revoke_user(instance, reason="user_deactivated")
        elif password_changed:
            revocation.revoke_user(instance, reason="password_changed")
    _remember(instance)


def _client_saved(instance: Client, created: bool, update_fields=None, **kwargs: Any) -> None:
    if not created and _changed(instance, update_fields)[0]:
        revocation.revoke_client(instance)
    _remember(instance)


def _user_deleted(instance: Any, **kwargs: Any) -> None:
    revocation.revoke_before_delete(AccessToken.objects.filter(user=instance))


def _client_deleted(instance: Client, **kwargs: Any) -> None:
    revocation.revoke_before_delete(AccessToken.objects.filter(client=instance))


def _logged_out(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
    if user is not None and getattr(user, "pk", None) is not None and token_settings.REVOKE_TOKENS_ON_LOGOUT:
        revocation.revoke_user(user, reason="logout")


def connect() -> None:
    user_model = get_user_model()
    uid = "oauth_tokens.provider.receivers."
    post_init.connect(_remember, sender=user_model, dispatch_uid=uid + "user_init")
    post_save.connect(_user_saved, sender=user_model, dispatch_uid=uid + "user_saved")
    pre_delete.connect(_user_deleted, sender=user_model, dispatch_uid=uid + "user_deleted")
    post_init.connect(_remember, sender=Client, dispatch_uid=uid + "client_init")
    post_save.connect(_client_saved, sender=Client, dispatch_uid=uid + "client_saved")
    pre_delete.connect(_client_deleted, sender=Client, dispatch_uid=uid + "client_deleted")
    user_logged_out.connect(_logged_out, dispatch_uid=uid + "logged_out")
