"""oauth_tokens (distributed as django-oauth-tokens-kit): issue, verify, revoke and
rotate OAuth 2 tokens, and keep tokens from other providers encrypted and fresh."""

__version__ = "0.1.0"
