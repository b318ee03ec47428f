"""ULIDs: 26 characters, in creation order."""

from __future__ import annotations

import re
import threading
import uuid
from datetime import UTC, datetime, timedelta

from ulid import ULID

from spine.core.ids import new_id, new_uuid

CROCKFORD_BASE32 = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")


def test_new_id_is_26_characters_of_crockford_base32() -> None:
    ident = new_id()

    assert isinstance(ident, str)
    assert CROCKFORD_BASE32.fullmatch(ident)


def test_new_id_encodes_its_creation_time() -> None:
    before = datetime.now(UTC)
    created = ULID.from_str(new_id()).datetime
    after = datetime.now(UTC)

    assert before - timedelta(milliseconds=1) <= created <= after


def test_ids_sort_in_creation_order_even_within_one_millisecond() -> None:
    ids = [new_id() for _ in range(20_000)]

    assert sorted(ids) == ids
    assert len(set(ids)) == len(ids)


def test_ids_made_in_many_threads_are_unique() -> None:
    made: list[list[str]] = [[] for _ in range(8)]

    def make(into: list[str]) -> None:
        into.extend(new_id() for _ in range(2_000))

    threads = [threading.Thread(target=make, args=(bucket,)) for bucket in made]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    every = [ident for bucket in made for ident in bucket]
    assert len(set(every)) == len(every) == 16_000
    assert all(sorted(bucket) == bucket for bucket in made)


def test_new_uuid_is_a_random_uuid() -> None:
    first, second = new_uuid(), new_uuid()

    assert isinstance(first, uuid.UUID)
    assert first.version == 4
    assert first != second
