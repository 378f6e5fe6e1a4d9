"""Side-by-side benchmarks: our bearer authentication and token endpoint against
django-oauth-toolkit and djangorestframework-simplejwt, in one process.

Run with ``make bench`` (or ``python -m bench --help``). Not part of the test
suite; ``tests/test_bench_smoke.py`` runs a tiny iteration so it cannot rot.
"""
