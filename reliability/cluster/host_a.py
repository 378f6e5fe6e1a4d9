"""Host A of the cluster demo: the shared provider settings, named "host-a"."""

from reliability.cluster.provider_settings import *  # noqa: F403

HOST_NAME = "host-a"
