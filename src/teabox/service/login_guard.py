"""Failed-login limits per user id and per client address: guessing passwords costs the guesser.

Only failures count (a user who logs in often is never refused), in a moving
window, and a success clears that user id's count. The check runs before the
password is hashed, so a refused guess costs the service no argon2 at all; it
is repeated right before hashing, so that guesses queued while others were
being checked cannot overshoot the limit by more than the guesses being hashed
at that moment. The counts live in this process's memory: a restart forgets them.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from teabox.platform.errors import TooManyRequests
from teabox.service.limits import ServiceLimits


class LoginGuard:
    def __init__(self, limits: ServiceLimits) -> None:
        window = limits.login_window_seconds
        self._per_user: RateLimitItem = RateLimitItemPerSecond(limits.login_failures_per_user, window, "user")
        self._per_address: RateLimitItem = RateLimitItemPerSecond(limits.login_failures_per_address, window, "address")
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def check(self, user_id: str, address: str) -> None:
        """Raise 429 (with the seconds until the next attempt is allowed) if either limit is used up."""
        for item, key, what in (
            (self._per_user, user_id, "this user id"),
            (self._per_address, address, "your address"),
        ):
            if not self._limiter.test(item, key):
                retry_after = self._limiter.get_window_stats(item, key).reset_time - time.time()
                raise TooManyRequests(
                    f"too many failed logins for {what}; try again in {math.ceil(retry_after)} s",
                    max(1, math.ceil(retry_after)),
                    "too_many_login_failures",
                )

    def failed(self, user_id: str, address: str) -> None:
        self._limiter.hit(self._per_user, user_id)
        self._limiter.hit(self._per_address, address)

    def succeeded(self, user_id: str) -> None:
        self._limiter.clear(self._per_user, user_id)
