"""Worker threads for the run route, handing each result straight back to the event loop.

``loop.run_in_executor`` wraps every call in a concurrent future, a work item and an
asyncio future chained to it, each with its own locks and callbacks; on the event loop,
which every request passes through, that bookkeeping cost about a tenth of its time in
a profile under load. Here a call is one queue entry, and the thread that ran it sets
the loop's future through ``call_soon_threadsafe``. The caller's context (the request
id of its log lines) is carried over.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_Job = tuple[
    asyncio.AbstractEventLoop, "asyncio.Future[Any]", contextvars.Context, Callable[[], Any]
]


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return  # nobody waits any more (the request went away); the run itself is done
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class RunThreads:
    def __init__(self, size: int, name: str) -> None:
        self.size = size
        self.name = name
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._started = False
        self._lock = threading.Lock()

    async def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` in one of the threads; the event loop serves others meanwhile."""
        if not self._started:
            self._start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((loop, future, contextvars.copy_context(), fn))
        return await future

    def _start(self) -> None:
        with self._lock:
            if self._started:
                return
            for n in range(self.size):
                # Daemon threads: a server stops serving (and waits for its requests)
                # before the interpreter exits, so no run is cut short by the exit.
                worker = threading.Thread(target=self._work, name=f"{self.name}-{n}", daemon=True)
                worker.start()
            self._started = True

    def _work(self) -> None:
        while True:
            loop, future, context, fn = self._jobs.get()
            result: Any = None
            error: BaseException | None = None
            try:
                result = context.run(fn)
            except BaseException as exc:  # handed to the awaiting request, never lost here
                error = exc
            with contextlib.suppress(RuntimeError):  # the loop closed: the server is gone
                loop.call_soon_threadsafe(_settle, future, result, error)
            del result, error, fn, future  # no reference outlives the job
