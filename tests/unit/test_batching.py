"""The micro-batcher: concurrent predictions share one model call, each gets its own answer."""

from __future__ import annotations

import asyncio

import numpy as np
import pandas as pd
import pytest

from api.batching import MicroBatcher
from api.model import ServedModel


class CountingPipeline:
    """Probabilities from the title's length; counts its calls and their sizes."""

    classes_ = np.array([10, 40, 2583])

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[int] = []
        self.fail = fail

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        self.calls.append(len(frame))
        if self.fail:
            raise ValueError("model exploded")
        favourite = frame["designation"].str.len().to_numpy() % 3
        return np.eye(3)[favourite] * 0.7 + 0.1


def model(pipeline: CountingPipeline, version: int = 1) -> ServedModel:
    return ServedModel.of(pipeline, version=version, run_id="r")


async def concurrently(batcher: MicroBatcher, jobs: list[tuple[ServedModel, str, int]]):
    batcher.start()
    try:
        return await asyncio.gather(
            *(batcher.rank(m, title, "", k) for m, title, k in jobs), return_exceptions=True
        )
    finally:
        await batcher.stop()


def test_concurrent_requests_share_one_call_and_keep_their_own_answers() -> None:
    pipeline = CountingPipeline()
    served = model(pipeline)
    titles = ["a" * n for n in range(1, 21)]
    answers = asyncio.run(
        concurrently(MicroBatcher(), [(served, t, 1 + i % 3) for i, t in enumerate(titles)])
    )
    assert pipeline.calls == [20]  # twenty requests, one model call
    for i, (title, answer) in enumerate(zip(titles, answers, strict=True)):
        assert len(answer) == 1 + i % 3
        assert answer[0].code == served.codes[len(title) % 3]
        assert answer[0].category in {"Used books", "Imported video games", "Pools & accessories"}


def test_batches_are_capped_and_a_swap_splits_them_by_model() -> None:
    old, new = CountingPipeline(), CountingPipeline()
    jobs = [(model(old), "x", 1)] * 5 + [(model(new, 2), "y", 1)] * 3
    sizes: list[int] = []
    asyncio.run(concurrently(MicroBatcher(max_batch=4, on_batch=sizes.append), jobs))
    assert sizes == [4, 1, 3]  # 4 old | 1 old + 3 new
    assert old.calls == [4, 1] and new.calls == [3]


def test_a_failing_model_fails_every_request_of_its_batch_and_no_other() -> None:
    broken, fine = CountingPipeline(fail=True), CountingPipeline()
    answers = asyncio.run(
        concurrently(MicroBatcher(), [(model(broken), "a", 1)] * 2 + [(model(fine, 2), "b", 1)])
    )
    assert [type(a).__name__ for a in answers] == ["ValueError", "ValueError", "list"]


def test_outside_its_event_loop_it_answers_alone() -> None:
    pipeline = CountingPipeline()

    async def unstarted() -> list:
        return await MicroBatcher().rank(model(pipeline), "abc", "", 2)

    assert len(asyncio.run(unstarted())) == 2 and pipeline.calls == [1]


@pytest.mark.parametrize("count", [1, 2])
def test_a_lone_request_waits_for_nobody(count: int) -> None:
    pipeline = CountingPipeline()
    answers = asyncio.run(concurrently(MicroBatcher(), [(model(pipeline), "z", 3)] * count))
    assert pipeline.calls == [count] and all(len(a) == 3 for a in answers)


def test_after_stop_a_late_request_is_answered_alone() -> None:
    pipeline = CountingPipeline()

    async def late() -> list:
        batcher = MicroBatcher()
        batcher.start()
        await batcher.stop()
        return await asyncio.wait_for(batcher.rank(model(pipeline), "abc", "", 2), timeout=5)

    assert len(asyncio.run(late())) == 2 and pipeline.calls == [1]
