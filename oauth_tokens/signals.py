"""Signals, all sent after the database transaction commits.

Receivers never get a token value: only rows (whose secrets are digests) and ids.
"""

from django.dispatch import Signal

#: Provider issued tokens. kwargs: ``client``, ``user`` (or None), ``access_token``
#: (AccessToken row), ``refresh_token`` (RefreshToken row or None), ``grant_type``,
#: ``ip`` (the requester's address or None).
token_issued = Signal()

#: A refresh token was rotated (provider) or a stored token refreshed (consumer).
#: Provider kwargs: ``client``, ``user``, ``old``, ``new`` (RefreshToken rows),
#: ``access_token`` (the new AccessToken row), ``ip`` (the requester's address or None).
#: Consumer kwargs: ``provider`` (name), ``user``, ``token`` (ExternalToken row).
token_refreshed = Signal()

#: A rotated refresh token was presented again outside the grace window (or
#: beyond the grace replays allowed); its whole family was revoked.
#: kwargs: ``client``, ``user``, ``family``, ``ip``.
refresh_token_reused = Signal()

#: A rotated refresh token was presented again inside the grace window and got
#: its successor pair again (a retry, a request that lost the race to rotate, or
#: a thief who replayed it in time; the server cannot tell them apart). Recorded
#: as a ``grace_replayed`` token event as well. kwargs: ``client``, ``user``,
#: ``family``, ``token`` (the replayed RefreshToken row), ``replays`` (how many
#: times this rotation's pair has now been handed out again), ``elapsed``
#: (seconds since the rotation), ``ip`` (the requester's address or None).
refresh_token_replayed = Signal()

#: Tokens were revoked. Provider kwargs: ``client``, ``user``, ``family`` (or None),
#: ``reason``. Consumer kwargs: ``provider``, ``user``, ``token``.
token_revoked = Signal()

#: Provider: wrong secrets were sent in a confidential client's name
#: ``CLIENT_AUTH_FAILURE_LIMIT`` times inside ``CLIENT_AUTH_FAILURE_WINDOW`` seconds,
#: from any addresses (someone may be guessing, or a deployment has a stale
#: secret). Sent at most once per window per client; nothing is refused because
#: of it. kwargs: ``client`` (Client row), ``ip`` (the address of the failure that
#: reached the limit, or None), ``count``, ``window`` (seconds). A
#: ``client_auth_failures`` TokenEvent records the same.
client_auth_failures = Signal()

#: Provider: an anomaly in the use of refresh tokens was detected and recorded
#: (an ``anomaly`` TokenEvent whose detail is "<kind>: <what, with the numbers>").
#: kwargs: ``kind`` (``frequent_refresh``, ``failed_refresh``, ``new_location`` or
#: ``impossible_travel``), ``client`` (Client row or None), ``user`` (or None),
#: ``family`` (UUID or None: a client's rate, an address's failures), ``ip`` (the
#: requester's address or None), ``details`` (dict: the numbers that triggered it,
#: ``detail``, the event's text, and ``action``, what was done: ``record``,
#: ``revoke`` or ``revoke_and_reauthorize``).
token_anomaly = Signal()

#: The user must authorize again.
#: Consumer: the stored refresh token is dead; the user must connect again.
#: Consumer kwargs: ``provider``, ``user``, ``token`` (ExternalToken row), ``url``.
#: Provider (an anomaly whose action is ``revoke_and_reauthorize`` revoked a
#: family): ``client``, ``user``, ``family``, ``reason`` (``"anomaly:<kind>"``).
#: The consumer sends it with ``sender=ExternalToken``, the provider with
#: ``sender=RefreshToken``: connect with a sender to hear one side only.
reauthorization_required = Signal()
