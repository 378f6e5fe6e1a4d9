"""The reliability suite (``make reliability``): fuzzing, load with invariants,
and faults, against the example project served by gunicorn.

Parts live in their own modules, each with ``add_arguments(parser)`` and
``run(args) -> bool`` (False when an invariant broke); ``python -m reliability``
runs them in order and prints the figures.

``reliability.cluster`` (``make cluster-demo``) is apart from the parts: two provider
hosts and an API in remote mode, and how long each worker takes to refuse a revoked
token (docs/scaling.md).
"""
