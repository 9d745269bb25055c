"""A bounded pool of pipelines: ``workers`` threads, each borrowing one of ``workers`` loaded pipelines.

Models load once, when the pool is made. At most ``workers + queue`` requests are admitted at a
time (running or waiting); one more is refused at once with :class:`Busy` (HTTP 503), so a burst
can never pile up unbounded work or memory.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from hake.engine.infer.pipeline import Pipeline

T = TypeVar("T")


class Busy(Exception):
    """Every worker is busy and the waiting queue is full."""


class PipelinePool:
    """Runs functions ``fn(pipeline, *args)`` on worker threads, each with a pipeline of its own.

    Args:
        make_pipeline: builds one pipeline (called ``workers`` times, now).
        workers: concurrent requests (threads, and pipelines).
        queue_size: requests that may wait for a worker beyond those running.
    """

    def __init__(self, make_pipeline: Callable[[], Pipeline], workers: int = 2, queue_size: int = 16) -> None:
        if workers < 1 or queue_size < 0:
            raise ValueError("workers must be >= 1 and queue_size >= 0")
        self.workers = workers
        self.capacity = workers + queue_size
        self._pipelines: queue.SimpleQueue[Pipeline] = queue.SimpleQueue()
        self.first = make_pipeline()
        self._pipelines.put(self.first)
        for _ in range(workers - 1):
            self._pipelines.put(make_pipeline())
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hake-serve")
        self._lock = threading.Lock()
        self.pending = 0
        self.served = 0

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(pipeline, *args)`` on a worker and await its result.

        Raises:
            Busy: ``workers + queue_size`` requests are already admitted.
        """
        with self._lock:
            if self.pending >= self.capacity:
                raise Busy
            self.pending += 1
        try:
            return await asyncio.wrap_future(self._executor.submit(self._call, fn, args))
        finally:
            with self._lock:
                self.pending -= 1
                self.served += 1

    def _call(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        pipeline = self._pipelines.get()
        try:
            return fn(pipeline, *args)
        finally:
            self._pipelines.put(pipeline)

    def close(self) -> None:
        """Stop the worker threads (waits for running requests)."""
        self._executor.shutdown(wait=True, cancel_futures=True)
