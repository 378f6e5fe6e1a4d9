"""Resource-server side: accept this project's bearer tokens in your APIs.

- ``authentication.BearerTokenAuthentication``: DRF authentication (RFC 6750, RFC 9068 section 4).
- ``permissions.HasScope`` / ``HasAnyScope`` / ``ReadWriteScope``: scope checks declared on the view.
- ``decorators.bearer_required`` / ``BearerTokenRequiredMixin``: the same for plain Django views.
- ``verifier``: which verifier a request uses: the provider's of this project (local mode) or the
  provider's JWKS and, optionally, its introspection endpoint (remote mode, ``OAUTH_TOKENS["JWKS_URL"]``).

Nothing here imports the provider app: local mode finds the provider's verifier
through ``oauth_tokens.oauth2.verifier.local_verifier()``.
"""
