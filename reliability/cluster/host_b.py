"""Host B of the cluster demo: the shared provider settings, named "host-b"."""

from reliability.cluster.provider_settings import *  # noqa: F403

HOST_NAME = "host-b"
