"""Request ids: unique within a process and across forked children, 32 hex characters, and
nothing a caller can count other requests by."""

from __future__ import annotations

import itertools
import os
import re

from gateway.api.middleware import RequestIds
from tests.conftest import Gateway


def test_ids_are_unique_hex_of_the_old_length() -> None:
    ids = RequestIds()
    made = [ids.next() for _ in range(10_000)]
    assert len(set(made)) == len(made)
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in made)
    assert RequestIds().next() != made[0]  # each holder draws its own key


def test_ids_do_not_show_how_many_requests_came_between() -> None:
    """Ids in order share no prefix and do not count up: a caller seeing two of its own
    cannot tell how many requests others made in between."""
    ids = RequestIds()
    made = [ids.next() for _ in range(1_000)]
    assert len({i[:8] for i in made}) > 990  # a counter under a fixed prefix would give 1
    assert sum(int(a, 16) < int(b, 16) for a, b in itertools.pairwise(made)) < 600


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
    assert child != ids.next()


def test_every_response_carries_a_distinct_id(gateway: Gateway) -> None:
    seen = {
        gateway.get("heping-committee", "/v1/datasets").headers["x-request-id"] for _ in range(5)
    }
    assert len(seen) == 5
