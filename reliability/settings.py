"""The example project's settings, with ``OAUTH_TOKENS`` values overridden from
the environment variable ``RELIABILITY_OAUTH_TOKENS`` (a JSON object). The memory
soak uses it to make the bounded per-process structures reach their bounds
within the run (a small verified-token cache, short-lived access tokens)."""

import json
import os

from example_project.settings import *  # noqa: F403
from example_project.settings import OAUTH_TOKENS

OAUTH_TOKENS = {**OAUTH_TOKENS, **json.loads(os.environ.get("RELIABILITY_OAUTH_TOKENS") or "{}")}
