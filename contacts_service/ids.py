"""Primary keys: UUIDv7 (RFC 9562), time-ordered so new rows land at the right edge of the index.

Python 3.11's uuid module has no uuid7. Written here rather than taken from the uuid6 package the
project used before: an import writes a dozen rows per contact and uuid6.uuid7() took 8 us an id
against 3 us here. Ids made in the same millisecond increase by one (the random bits act as a
counter, RFC 9562 method 2), so ids stay sorted within a process.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

_RAND_B = (1 << 62) - 1
_lock = threading.Lock()
_last_ms = 0
_last_rand = 0


def new_id() -> uuid.UUID:
    global _last_ms, _last_rand
    ms = time.time_ns() // 1_000_000
    with _lock:
        if ms > _last_ms:
            _last_ms, _last_rand = (
                ms,
                int.from_bytes(os.urandom(10), "big") >> 7,
            )  # 73 random bits: room to count
        else:  # same millisecond (or the clock stepped back): keep order
            ms, _last_rand = _last_ms, _last_rand + 1
        rand = _last_rand
    return uuid.UUID(int=(ms << 80) | (0x7 << 76) | ((rand >> 62) << 64) | (0x2 << 62) | (rand & _RAND_B))
