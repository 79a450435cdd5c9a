"""Micro-batching: concurrent single-product predictions share one model call.

A model call has a fixed cost besides its per-product work (numpy's per-call overhead in the
compiled model; scikit-learn's validation and dispatch when a pipeline is served as it is), so one
call on 16 products costs much less than 16 calls on one.
So ``/predict`` does not call the model itself: it queues its product here and awaits the answer.
A single task on the event loop takes everything queued, makes one model call, and answers all.
While it computes, new requests queue up and form the next batch — so the batch grows with the
load by itself, and a lone request waits for nobody (there is no timer, only one loop turn).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

from api.model import Ranked, ServedModel


@dataclass(slots=True)
class _Job:
    model: ServedModel
    designation: str
    description: str
    top_k: int
    answer: asyncio.Future[list[Ranked]] = field(repr=False)


class MicroBatcher:
    """Coalesces the single-product predictions waiting at the same moment into one model call."""

    def __init__(self, max_batch: int = 64, on_batch: Callable[[int], None] | None = None) -> None:
        self.max_batch = max_batch
        self._on_batch = on_batch or (lambda _size: None)
        self._queue: list[_Job] = []
        self._ready: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the batching task (inside the running event loop it will serve)."""
        self._ready = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._run(), name="micro-batcher")

    async def stop(self) -> None:
        """Stop the task; anything still queued is answered first, and later calls alone."""
        self._ready = self._loop = None  # a late call must not queue where nobody drains
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._drain()

    async def rank(
        self, model: ServedModel, designation: str, description: str, top_k: int
    ) -> list[Ranked]:
        """The product's ``top_k`` classes, computed together with whatever else is waiting."""
        loop = asyncio.get_running_loop()
        if self._ready is None or loop is not self._loop:
            # Not started, or called from another event loop (an ASGI client without the app's
            # lifespan): asyncio objects must not cross loops, so answer alone, right here.
            return model.rank_texts([designation], [description], top_k)[0]
        answer: asyncio.Future[list[Ranked]] = loop.create_future()
        self._queue.append(_Job(model, designation, description, top_k, answer))
        self._ready.set()
        return await answer

    async def _run(self) -> None:
        assert self._ready is not None  # set by start()
        ready = self._ready
        while True:
            await ready.wait()
            ready.clear()
            await asyncio.sleep(0)  # one loop turn: requests already parsed join this batch
            self._drain()

    def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            self._compute(batch)

    def _compute(self, batch: list[_Job]) -> None:
        by_model: dict[int, list[_Job]] = {}
        for job in batch:  # a hot swap may leave two models' requests in one batch
            by_model.setdefault(id(job.model), []).append(job)
        for jobs in by_model.values():
            self._on_batch(len(jobs))
            designations = [j.designation for j in jobs]
            descriptions = [j.description for j in jobs]
            try:
                ranked = jobs[0].model.rank_texts(
                    designations, descriptions, max(j.top_k for j in jobs)
                )
            except Exception as exc:  # noqa: BLE001 - every waiting request gets the error
                for job in jobs:
                    if not job.answer.done():
                        job.answer.set_exception(exc)
                continue
            for job, candidates in zip(jobs, ranked, strict=True):
                if not job.answer.done():  # the client may have gone away
                    job.answer.set_result(candidates[: job.top_k])
