"""The device authorization grant's pure parts (RFC 8628): user codes, the
device authorization response, and what the grant needs from storage.

User codes (section 6.1): eight characters from twenty consonants (no vowels,
so no words; no digits, so nothing to confuse with letters), about 34.5 bits,
shown as ``XXXX-XXXX``. What a user types is read case-insensitively, with or
without the dash and spaces. Guessing is bounded by the throttle of the
verification page, not by the code's length.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar, runtime_checkable
from urllib.parse import urlencode

from oauth_tokens.oauth2.store import TokenSet

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_LENGTH = 8
#: Section 3.5: after ``slow_down`` the client adds 5 seconds to its interval, for good.
SLOW_DOWN_STEP = 5

PENDING, APPROVED, DENIED, USED = "pending", "approved", "denied", "used"


def new_user_code() -> str:
    """A fresh user code, normalized (no dash): store its digest, show ``display(code)``."""
    return "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH))


def display(code: str) -> str:
    """``BCDFGHJK`` -> ``BCDF-GHJK``."""
    half = len(code) // 2
    return f"{code[:half]}-{code[half:]}"


def normalize_user_code(typed: str) -> str | None:
    """What the user typed as a stored user code, or None when it cannot be one."""
    code = "".join(c for c in typed.upper() if c not in "- \t")
    if len(code) != USER_CODE_LENGTH or any(c not in USER_CODE_ALPHABET for c in code):
        return None
    return code


@dataclass(frozen=True)
class DeviceAuthorization:
    """The device authorization response (section 3.2)."""

    device_code: str
    user_code: str  # normalized; shown with the dash
    verification_uri: str
    expires_in: int
    interval: int

    def to_dict(self) -> dict[str, Any]:
        shown = display(self.user_code)
        sep = "&" if "?" in self.verification_uri else "?"
        return {
            "device_code": self.device_code,
            "user_code": shown,
            "verification_uri": self.verification_uri,
            "verification_uri_complete": f"{self.verification_uri}{sep}{urlencode({'user_code': shown})}",
            "expires_in": self.expires_in,
            "interval": self.interval,
        }


_Client_contra = TypeVar("_Client_contra", contravariant=True)
_Device = TypeVar("_Device")


class DeviceCode(Protocol[_Client_contra]):
    def issued_to(self, client: _Client_contra) -> bool: ...
    @property
    def status(self) -> str: ...
    @property
    def resources(self) -> str:
        """The resources the device asked for (RFC 8707), one per line; "" for none."""
    @property
    def expires_at(self) -> datetime: ...


@runtime_checkable
class DeviceCodeStore(Protocol[_Client_contra, _Device]):
    """What the device code grant needs besides a ``TokenStore``'s ``now()``. A store
    without these methods does not offer the grant (``unsupported_grant_type``)."""

    def device_flow_enabled(self) -> bool: ...

    def find_device_code(self, device_code: str) -> _Device | None: ...

    def record_poll(self, device: _Device, *, slow_down_step: int) -> bool:
        """Atomically note a poll now. False when the previous one came less than the
        code's interval ago: the interval has then grown by ``slow_down_step``."""

    def redeem_device_code(self, device: _Device, client: _Client_contra,
                           resources: tuple[str, ...]) -> TokenSet | None:
        """Compare-and-swap ``approved`` -> ``used`` and issue the tokens (the access
        token for ``resources``, a subset of the device code's), in one
        transaction. None when another poll redeemed it first."""
