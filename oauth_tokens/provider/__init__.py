"""The Django app ``oauth_tokens.provider``: clients, tokens, keys and the endpoints."""
