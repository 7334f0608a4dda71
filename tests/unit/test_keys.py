"""The typed keys of a hand-over message and of an attempt."""

from __future__ import annotations

import uuid

from postsched.broker import PublishMessage
from postsched.keys import AttemptKey, MessageKey


def test_a_message_key_is_the_pair_sql_rows_give_and_keeps_its_dedup_id() -> None:
    post = uuid.UUID("6f1c1f2e-7b7a-4c9e-9a39-0a1d2b3c4d5e")
    key = MessageKey(post, 3)
    assert key == (post, 3) and hash(key) == hash((post, 3))  # a dict keyed by either finds the other
    # JetStream drops a second message with the same Nats-Msg-Id: dispatchers of every version must agree
    assert key.msg_id == "6f1c1f2e-7b7a-4c9e-9a39-0a1d2b3c4d5e:3"
    assert PublishMessage.decode(PublishMessage(post, 3).encode()).key == key


def test_an_attempt_key_is_not_a_message_key_of_the_same_numbers_by_name() -> None:
    post = uuid.uuid4()
    assert AttemptKey(post, 3).epoch == 3 and MessageKey(post, 3).generation == 3
