"""Device access token request (RFC 8628 section 3.4) and its polling answers
(section 3.5): ``authorization_pending``, ``slow_down``, ``expired_token``,
``access_denied``, and the tokens once the user approved.

The tokens are issued once: the store swaps ``approved`` to ``used`` with one
conditional write. Of two polls racing after approval, the loser gets
``invalid_grant``: the grant has been exchanged, so the request is not
"pending" any more, and a terminal error stops a client that polls twice
instead of sending it back for another round. A redeemed code presented again
is ``invalid_grant`` too and revokes nothing: the device code is the client's
own polling handle, and a racing duplicate must not cost the winner its tokens.

``resource`` (RFC 8707): the device authorization request names the resources
(stored on the device code); a poll may name a subset of them for the access
token, and anything else is ``invalid_target`` at once, whatever the code's state.
"""

from __future__ import annotations

from typing import Any

from oauth_tokens.oauth2 import device, resources
from oauth_tokens.oauth2.errors import AccessDenied, AuthorizationPending, ExpiredToken, InvalidGrant, SlowDown
from oauth_tokens.oauth2.grants.base import Grant
from oauth_tokens.oauth2.store import ClientT, CodeT, RefreshT, TokenSet

INVALID_CODE = "The device code is invalid or was already used"


class DeviceCodeGrant(Grant[ClientT, CodeT, RefreshT]):
    grant_type = device.GRANT_TYPE

    code: Any

    @classmethod
    def available(cls, store: object) -> bool:
        return isinstance(store, device.DeviceCodeStore) and store.device_flow_enabled()

    @property
    def devices(self) -> device.DeviceCodeStore[ClientT, Any]:
        assert isinstance(self.store, device.DeviceCodeStore)
        return self.store

    def validate(self) -> None:
        self.check_subject_kind()
        code = self.devices.find_device_code(self.request.require("device_code"))
        if code is None or not code.issued_to(self.client) or code.status == device.USED:
            raise InvalidGrant(INVALID_CODE)
        self.resources = resources.narrow(self.requested_resources(), resources.split(code.resources))
        if code.expires_at <= self.store.now():
            raise ExpiredToken()
        if code.status == device.DENIED:
            raise AccessDenied("The user denied the authorization request", status_code=400)
        if code.status == device.PENDING:
            if not self.devices.record_poll(code, slow_down_step=device.SLOW_DOWN_STEP):
                raise SlowDown()
            raise AuthorizationPending()
        self.code = code

    def issue(self) -> TokenSet:
        tokens = self.devices.redeem_device_code(self.code, self.client, self.resources)
        if tokens is None:
            raise InvalidGrant(INVALID_CODE)
        return tokens
