"""The OAuth 2 specification layer: plain Python, no Django import.

It parses requests, validates grants, PKCE and scopes, and signs and verifies
JWTs. It reaches storage only through the Protocols in ``store.py``; the Django
app implements them with the ORM and the pure tests implement them with dicts.
"""
