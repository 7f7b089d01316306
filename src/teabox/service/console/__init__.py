"""The web console: the platform's operations as pages, for the people who approve rather than program.

It is served by ``teabox serve`` under ``/console`` and calls the very same
platform operations as the HTTP API, so the same rules, limits and audit
entries apply; only the way a caller proves who it is differs (a session
cookie with a CSRF token instead of a bearer header).
"""

from teabox.service.console.routes import mount_console

__all__ = ["mount_console"]
