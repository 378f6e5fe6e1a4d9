"""What both provider hosts of the cluster demo share: the example project's settings
(DATABASE_URL through PgBouncer with DATABASE_PGBOUNCER=1, REDIS_URL, the same
SECRET_KEY, OAUTH_TOKENS_ISSUER, ENCRYPTION_KEYS and DIGEST_KEY from the
environment), one cache key prefix on every host (hosts with different prefixes or
versions would not see each other's revocation version), and
``CLUSTER_REVOCATION_POLL_INTERVAL`` when set. Each host's module adds its
``HOST_NAME``, which ``reliability.cluster.wsgi`` puts in an ``X-Served-By`` header."""

import os

from example_project.settings import *  # noqa: F403
from example_project.settings import CACHES, OAUTH_TOKENS

CACHES["default"]["KEY_PREFIX"] = "cluster"
if os.environ.get("CLUSTER_REVOCATION_POLL_INTERVAL"):
    OAUTH_TOKENS = {**OAUTH_TOKENS, "REVOCATION_POLL_INTERVAL": float(os.environ["CLUSTER_REVOCATION_POLL_INTERVAL"])}
HOST_NAME = "provider"
