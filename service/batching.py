"""Questions of concurrent requests share model calls.

A worker's request threads each need a question (and the sentences they score) encoded. One model call at a time
runs; the calls that arrive meanwhile wait, and whichever caller finds the model free next encodes everything
queued (up to ``batch_size`` texts beyond the oldest call's) in one batch. A batch of 8 questions costs about 3.5
times one on a CPU thread, not 8, so under load answers come faster; a lone caller waits for nobody.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from ingest import Embedder
from ingest.embedding import Vectors


class SharedEncoder:
    """``embedder`` shared by threads: their concurrent ``encode`` calls become one model call.

    Example:
        >>> shared = SharedEncoder(Embedder())
        >>> shared.encode(["a question"]).shape
        (1, 384)
    """

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self.name = embedder.name
        self.precision = embedder.precision
        self.dimension = embedder.dimension
        self._turn = threading.Condition()  # guards _queue and _busy
        self._queue: list[_Job] = []
        self._busy = False

    def encode(self, texts: Sequence[str]) -> Vectors:
        """Vectors of ``texts``, one row each, from this call's model call or from one that another thread ran."""
        job = _Job(list(texts))
        with self._turn:
            self._queue.append(job)
        while True:
            with self._turn:
                while self._busy and not job.done:
                    self._turn.wait()
                if job.done:  # encoded in a batch that another caller ran
                    break
                self._busy = True
                batch = _take(self._queue, self.embedder.batch_size)
            try:
                _run(batch, self.embedder.encode)
            finally:
                with self._turn:
                    self._busy = False
                    self._turn.notify_all()
        if job.error is not None:
            raise job.error
        assert job.vectors is not None
        return job.vectors

    def waiting(self) -> int:
        """How many calls are queued for the model's next batch."""
        with self._turn:
            return len(self._queue)


class _Job:
    """One ``encode`` call's texts, waiting for the model; ``done`` once ``vectors`` or ``error`` is set."""

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.vectors: Vectors | None = None
        self.error: BaseException | None = None
        self.done = False


def _take(queue: list[_Job], limit: int) -> list[_Job]:
    """The oldest jobs, removed from ``queue``: the first whatever its size, then more while the batch holds at
    most ``limit`` texts beyond the first job's."""
    taken = 1
    texts = 0
    while taken < len(queue) and texts + len(queue[taken].texts) <= limit:
        texts += len(queue[taken].texts)
        taken += 1
    batch = queue[:taken]
    del queue[:taken]
    return batch


def _run(batch: list[_Job], encode: Callable[[list[str]], Vectors]) -> None:
    """Encode every job of ``batch`` in one call and hand each job its rows, or the error to all of them."""
    try:
        vectors = encode([text for job in batch for text in job.texts])
    except BaseException as exc:
        for job in batch:  # each caller re-raises it from its own encode()
            job.error = exc
            job.done = True
        if not isinstance(exc, Exception):
            raise  # KeyboardInterrupt, SystemExit: the thread that ran the model stops too
        return
    begin = 0
    for job in batch:
        job.vectors = vectors[begin : begin + len(job.texts)]
        begin += len(job.texts)
        job.done = True
