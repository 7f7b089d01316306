"""Suite-wide fixtures: the running-server fixtures live in ``platform_server.py``."""

pytest_plugins = ["platform_server"]
