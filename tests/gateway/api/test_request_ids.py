"""Request ids: unique within a process, across forked children, and 32 hex characters."""

from __future__ import annotations

import os
import re

from gateway.api.middleware import RequestIds
from tests.conftest import Gateway


def test_ids_are_unique_hex_of_the_old_length() -> None:
    ids = RequestIds()
    made = [ids.next() for _ in range(10_000)]
    assert len(set(made)) == len(made)
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in made)
    assert RequestIds().next()[:16] != made[0][:16]  # each holder draws its own prefix


def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    ids = RequestIds()
    ids.next()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the next id it would hand out
        os.write(write, ids.next().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.waitpid(pid, 0)
    os.close(read)
    assert child[:16] != ids.next()[:16]


def test_every_response_carries_a_distinct_id(gateway: Gateway) -> None:
    seen = {
        gateway.get("heping-committee", "/v1/datasets").headers["x-request-id"] for _ in range(5)
    }
    assert len(seen) == 5
