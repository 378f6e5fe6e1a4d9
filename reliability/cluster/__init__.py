"""``make cluster-demo`` (``python -m reliability.cluster``): the provider scaled out.

Two "hosts" of the example project, each a gunicorn master with two workers and
its own settings module (``host_a``, ``host_b``: the same keys and ``ISSUER``, a
different ``HOST_NAME``), share one PostgreSQL database through PgBouncer in
transaction mode and one Redis; a separate API service in remote mode
(``remote_settings``: no provider app, the provider's JWKS and introspection)
runs as a third gunicorn. ``demo`` issues tokens on host A, uses them on host B
and on the remote service, revokes them through host B and measures how long
every worker of the three takes to refuse them: docs/scaling.md.
"""
