"""Primary keys: UUIDv7, time-ordered so new rows land at the right edge of the index."""

import uuid

import uuid6


def new_id() -> uuid.UUID:
    return uuid.UUID(bytes=uuid6.uuid7().bytes)
