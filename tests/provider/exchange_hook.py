"""A ``TOKEN_EXCHANGE_USER_HOOK`` for the tests: the user whose username is the token's ``sub``."""

from django.contrib.auth import get_user_model


def by_sub(*, claims, issuer):
    return get_user_model().objects.filter(username=claims["sub"]).first()
