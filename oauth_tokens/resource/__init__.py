"""Resource-server side: DRF authentication and scope permissions for bearer tokens."""
