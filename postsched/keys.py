"""The two keys a post's way is fenced by, typed.

A hand-over message names a post under one dispatch generation (`MessageKey`): the publisher's
claim is a compare-and-set on it, so a stale or duplicate message matches nothing. An attempt
holds a post under one attempt epoch (`AttemptKey`): every write of the attempt (lease renewal,
checkpoint, outcome) is a compare-and-set on it, so an attempt taken over can change nothing.

They are named tuples: hashable, ordered, and equal to the plain (id, number) pairs SQL rows give.
"""

from __future__ import annotations

import uuid
from typing import NamedTuple


class MessageKey(NamedTuple):
    post_id: uuid.UUID
    generation: int

    @property
    def msg_id(self) -> str:
        """Nats-Msg-Id: the stream drops a second message with the same id within its duplicate window."""
        return f"{self.post_id}:{self.generation}"


class AttemptKey(NamedTuple):
    post_id: uuid.UUID
    epoch: int
