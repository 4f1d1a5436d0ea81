"""Hypothesis' Redis example database, with its change notifications delivered.

`hypothesis.extra.redis.RedisExampleDatabase` publishes every save on a Redis channel and
subscribes to it when a listener is added, but nothing reads the subscription, so listeners are
never called. HypoFuzz adds a listener in every worker to replay the covering examples other
workers find; without delivery, a machine sees the finds of other machines only when its
campaign starts. Reading the subscription in a background thread is all that is missing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import redis
from hypothesis.extra.redis import RedisExampleDatabase

EXPIRE_AFTER = timedelta(days=365)
"""Examples not fetched for this long expire (Hypothesis' default is 8 days, shorter than the
pause between two release campaigns)."""


class SharedRedisDatabase(RedisExampleDatabase):
    """A RedisExampleDatabase whose listeners are called on saves by other processes."""

    def __init__(self, url: str, key_prefix: bytes = b"nfct-spec:") -> None:
        super().__init__(
            redis.Redis.from_url(url), expire_after=EXPIRE_AFTER, key_prefix=key_prefix
        )
        self._reader: Any = None

    def _start_listening(self) -> None:
        super()._start_listening()
        self._reader = self._pubsub.run_in_thread(sleep_time=0.2, daemon=True)

    def _stop_listening(self) -> None:
        """Stop the reader and wait for it: it may be inside a read of the subscription, and
        closing the connection under it would kill the thread with an error. A reader that
        ends closes the subscription itself."""
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.stop()
            reader.join(timeout=5)
            if not reader.is_alive():
                self._pubsub = None
                return
        super()._stop_listening()
