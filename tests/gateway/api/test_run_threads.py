"""The run route's threads: results and errors come back, the context goes with the call."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time

import pytest

from gateway.api.run_threads import RunThreads

WHO: contextvars.ContextVar[str] = contextvars.ContextVar("who", default="nobody")


def test_results_errors_and_context_reach_the_caller() -> None:
    threads = RunThreads(4, "test-run")

    async def main() -> None:
        WHO.set("request-7")
        who, name = await threads.call(lambda: (WHO.get(), threading.current_thread().name))
        assert who == "request-7" and name.startswith("test-run-")
        assert WHO.get() == "request-7"  # the caller's own context is untouched

        def fails() -> None:
            raise LookupError("no such query")

        with pytest.raises(LookupError, match="no such query"):
            await threads.call(fails)
        # Calls run side by side: four calls meet at a barrier, which one thread alone
        # (or calls run one after another) could never pass.
        meet = threading.Barrier(4, timeout=30)

        def arrive(n: int) -> int:
            meet.wait()  # BrokenBarrierError unless four threads wait at once
            return n

        done = await asyncio.gather(*(threads.call(lambda n=n: arrive(n)) for n in range(4)))
        assert done == list(range(4))

    asyncio.run(main())


def test_a_caller_that_went_away_leaves_the_threads_working() -> None:
    threads = RunThreads(1, "test-run")

    async def main() -> None:
        waiting = asyncio.ensure_future(threads.call(lambda: time.sleep(0.2)))
        await asyncio.sleep(0.05)
        waiting.cancel()  # the request is gone; its run still finishes in the thread
        assert await threads.call(lambda: 42) == 42

    asyncio.run(main())
