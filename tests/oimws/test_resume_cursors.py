"""The resume cursors of dropped oimws sockets are one bounded table for every session: one
session's sockets must not be able to push another session's cursors out of it."""

from __future__ import annotations

from bridge.oimws.resume import ResumeCursors


def test_one_sessions_reconnect_flood_keeps_other_sessions_cursors() -> None:
    """A client that connects with a new operationID each time and drops the socket leaves a
    cursor per socket. Filling the table evicted every other session's: their apps'
    reconnects then started from now and missed what came meanwhile."""
    cursors = ResumeCursors(max_entries=100, per_session=4)
    cursors.save("victim", "conn-1", 41)
    for i in range(10_000):
        cursors.save("mallory", f"flood-{i}", i)
    assert len(cursors) == 5
    assert cursors.take("victim", "conn-1") == 41
    assert [cursors.take("mallory", f"flood-{i}") for i in (9_995, 9_996, 9_999)] == [None, 9_996, 9_999]


def test_the_table_stays_bounded_by_its_oldest_entries() -> None:
    cursors = ResumeCursors(max_entries=3, per_session=2)
    for sid in ("a", "b", "c", "d"):
        cursors.save(sid, "k", 1)
    assert len(cursors) == 3 and cursors.take("a", "k") is None and cursors.take("d", "k") == 1
    cursors.save("b", "k", 2)  # saved again: the newest, and still one entry
    cursors.save("e", "k", 3)
    cursors.save("f", "k", 4)  # over 3: the oldest, c, goes
    assert (cursors.take("c", "k"), cursors.take("b", "k"), cursors.take("e", "k")) == (None, 2, 3)
    assert cursors.take("e", "k") is None  # used once
    assert len(cursors) == 1 and cursors.take("f", "k") == 4 and len(cursors) == 0
