"""Ingest on a Ray cluster: loading and chunking as Ray tasks, embedding in a pool of actors, one model each.

``RayWorkers`` is both the build's executor and its encoder (``ingest_paths(..., embedder=w, executor=w)``);
everything else, the files and manifest, the atomic switch and the reuse of unchanged documents' vectors, is the
single-machine build's (``ingest.build``). Only ``citewell ingest --ray`` imports this module: the default path
never imports Ray.

Example:
    >>> with RayWorkers("local") as workers:  # doctest: +SKIP
    ...     ingest_paths([Path("corpus")], Path(".citewell/index"), embedder=workers, executor=workers)
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Any, TypeVar

import numpy as np
import ray
from ray.exceptions import GetTimeoutError, RayError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from ingest.embedding import DEFAULT_MODEL, GPU_PRECISION, Embedder, Vectors
from ingest.errors import IngestError

logger = logging.getLogger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")

# Texts per model batch, and per call to an actor (several batches: a call's round trip is then small beside its
# work). A GPU takes far larger batches than a CPU core; all-MiniLM-L6-v2 in fp16 keeps a batch of 512 in well
# under a gigabyte.
CPU_BATCH, CPU_TEXTS_PER_CALL = 64, 256
GPU_BATCH, GPU_TEXTS_PER_CALL = 512, 8192
# torch threads (and Ray CPUs) per CPU actor when the number of actors is not given: two actors of one thread
# embedded 1.2 to 1.7 times as fast as one of two on the 2-core machine (README, Benchmarks), for about 1.2 GB
# of memory each
CPU_THREADS_PER_ACTOR = 1
# calls queued on each actor, so that it starts the next while the previous one's vectors travel back
CALLS_IN_FLIGHT = 2
# how long actors may take to start (their model loads) before the cluster is deemed to have no room for them
ACTOR_START_SECONDS = 600.0


class RayWorkers:
    """A connection to a Ray cluster that runs a build's work: ``map`` as Ray tasks on the machine that runs the
    build (where the files are), ``encode_batches`` in a pool of embedding actors anywhere in the cluster.

    ``address`` goes to ``ray.init``: "local" starts a cluster on this machine, "auto" joins the one running here,
    "HOST:PORT" or "ray://HOST:PORT" another; a process already connected keeps its connection. Where the cluster
    has GPUs there is one actor per GPU (fp16, batches of ``GPU_BATCH``), otherwise one per
    ``CPU_THREADS_PER_ACTOR`` CPUs; ``actors`` overrides the count (CPU actors then share the CPUs). An actor
    that dies is restarted and its calls run again, up to ``restarts`` times; vectors always come back in order.
    The actors start when embedding first needs them (or at ``start``) and stop at ``stop`` or ``close``.

    The actors hold the CPUs they embed on for as long as they run, so tasks ask Ray for none (they would wait
    for ever behind the actors otherwise): at most one task per CPU of this machine runs at a time, and they
    run before embedding begins (loading, then chunking), when the actors are idle.
    """

    def __init__(
        self,
        address: str | None = "local",
        *,
        model: str = DEFAULT_MODEL,
        actors: int | None = None,
        restarts: int = 3,
        texts_per_call: int | None = None,
    ) -> None:
        self.model = model
        self.restarts = restarts
        self._owns_connection = not ray.is_initialized()
        if self._owns_connection:
            _check_reachable(address)
            try:
                ray.init(address=address, include_dashboard=False, logging_level=logging.WARNING)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise IngestError(f"cannot reach the Ray cluster at {address!r}: {exc}") from exc
        self._driver_node = ray.get_runtime_context().get_node_id()
        nodes: list[dict[str, Any]] = ray.nodes()  # type: ignore[no-untyped-call]
        here = [node for node in nodes if node["NodeID"] == self._driver_node]
        self._tasks_at_once = max(1, int(here[0]["Resources"].get("CPU", 1))) if here else 1
        resources: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call]
        gpus, cpus = int(resources.get("GPU", 0)), max(1, int(resources.get("CPU", 1)))
        if gpus:
            self.actors = actors or gpus
            self.device, self.precision, self.batch_size = "cuda", GPU_PRECISION, GPU_BATCH
            self.threads = 1
            self._options: dict[str, Any] = {"num_gpus": 1, "num_cpus": 1}
            self.texts_per_call = texts_per_call or GPU_TEXTS_PER_CALL
        else:
            self.actors = actors or max(1, cpus // CPU_THREADS_PER_ACTOR)
            self.device, self.precision, self.batch_size = "cpu", "float32", CPU_BATCH
            self.threads = max(1, cpus // self.actors)
            self._options = {"num_cpus": self.threads}
            self.texts_per_call = texts_per_call or CPU_TEXTS_PER_CALL
        if (gpus and self.actors > gpus) or (not gpus and self.actors * self.threads > cpus):
            raise IngestError(
                f"{self.actors} embedding actors do not fit a cluster of {cpus} CPUs and {gpus} GPUs"
            )
        self.pool: list[Any] = []  # the actors' handles while they run
        self._dimension: int | None = None
        self.startup_seconds = 0.0  # the last start of the actors, models loaded
        logger.info(
            "Ray cluster: %d CPUs, %d GPUs; %d embedding actors (%s, %s)",
            cpus,
            gpus,
            self.actors,
            self.device,
            self.precision,
        )

    # --- the executor: loading and chunking -------------------------------------------------------------

    def map(self, function: Callable[[Item], Result], items: Sequence[Item]) -> list[Result]:
        """``[function(item) for item in items]`` as Ray tasks on this machine, in this working directory (the
        paths given to the build mean the same there), results in order."""
        task = _run_task.options(
            scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=self._driver_node, soft=False)
        )
        shared, cwd = ray.put(function), os.getcwd()
        results: list[Any] = [None] * len(items)
        running: dict[Any, int] = {}  # task -> the item's position
        sent = 0
        try:
            while sent < len(items) or running:
                while sent < len(items) and len(running) < self._tasks_at_once:
                    running[task.remote(shared, items[sent], cwd)] = sent
                    sent += 1
                [done], _ = ray.wait(list(running), num_returns=1)
                results[running.pop(done)] = ray.get(done)
        except RayError as exc:
            raise IngestError(f"a task on the Ray cluster failed: {_reason(exc)}") from exc
        return results

    # --- the encoder: embedding -------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.model

    @property
    def dimension(self) -> int:
        self.start()
        assert self._dimension is not None
        return self._dimension

    def encode_batches(self, texts: Sequence[str]) -> Iterator[Vectors]:
        """The vectors of ``texts``, one call's worth at a time and in order, computed by the actors in turn
        (``CALLS_IN_FLIGHT`` calls queued on each)."""
        pool = self.start()
        calls = [texts[n : n + self.texts_per_call] for n in range(0, len(texts), self.texts_per_call)]
        pending: deque[Any] = deque()
        sent = 0
        while sent < len(calls) or pending:
            while sent < len(calls) and len(pending) < CALLS_IN_FLIGHT * len(pool):
                pending.append(pool[sent % len(pool)].encode.remote(list(calls[sent])))
                sent += 1
            try:
                vectors = ray.get(pending.popleft())
            except RayError as exc:
                raise IngestError(f"embedding on the Ray cluster failed: {_reason(exc)}") from exc
            yield np.asarray(vectors, dtype=np.float32)

    # --- the actors' life -------------------------------------------------------------------------------

    def start(self) -> list[Any]:
        """Start the actors (their models load) unless they run; their handles."""
        if self.pool:
            return self.pool
        began = time.monotonic()
        actor = _EmbeddingActor.options(
            **self._options, max_restarts=self.restarts, max_task_retries=self.restarts
        )
        self.pool = [
            actor.remote(self.model, self.device, self.precision, self.batch_size, self.threads)
            for _ in range(self.actors)
        ]
        try:
            dimensions = ray.get(
                [handle.dimension.remote() for handle in self.pool], timeout=ACTOR_START_SECONDS
            )
        except GetTimeoutError as exc:
            self.stop()
            raise IngestError(
                f"{self.actors} embedding actors did not start within {ACTOR_START_SECONDS:.0f} s: the cluster has "
                f"no room for them (each needs {self._options})"
            ) from exc
        except RayError as exc:
            self.stop()
            raise IngestError(f"the embedding actors could not start: {_reason(exc)}") from exc
        self._dimension = int(dimensions[0])
        self.startup_seconds = time.monotonic() - began
        return self.pool

    def stop(self) -> None:
        """Stop the actors, freeing their CPUs or GPUs; the next embedding starts them again."""
        for handle in self.pool:
            ray.kill(handle)
        self.pool = []

    def close(self) -> None:
        """Stop the actors, and the cluster if this object started it."""
        self.stop()
        if self._owns_connection:
            ray.shutdown()

    def __enter__(self) -> RayWorkers:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class EmbeddingActor:
    """One model on one device (a GPU, or some CPU threads), embedding the texts of each call it gets."""

    def __init__(self, model: str, device: str, precision: str, batch_size: int, threads: int) -> None:
        if device == "cpu":
            import torch

            torch.set_num_threads(threads)
        self._embedder = Embedder(model, device=device, batch_size=batch_size, precision=precision)

    def dimension(self) -> int:
        return self._embedder.dimension

    def encode(self, texts: list[str]) -> Vectors:
        return self._embedder.encode(texts)

    def pid(self) -> int:
        """The process the actor runs in: a new one after a restart."""
        return os.getpid()


_EmbeddingActor = ray.remote(EmbeddingActor)


def _call_in(function: Callable[[Item], Result], item: Item, cwd: str) -> Result:
    with contextlib.chdir(cwd):
        return function(item)


_run_task: Any = ray.remote(num_cpus=0)(_call_in)  # see RayWorkers: the actors hold the CPUs


def _check_reachable(address: str | None) -> None:
    """Refuse a HOST:PORT that nothing answers at once: Ray itself would retry for minutes."""
    host, _, port = (address or "").removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # "local", "auto": Ray answers these at once
    try:
        socket.create_connection((host, int(port)), timeout=10).close()
    except OSError as exc:
        raise IngestError(f"cannot reach the Ray cluster at {address!r}: {exc.strerror or exc}") from exc


def _reason(error: RayError) -> str:
    """The first line of what went wrong: the task's own exception where there is one."""
    cause = getattr(error, "cause", None)
    if isinstance(cause, BaseException):
        return f"{type(cause).__name__}: {cause}".splitlines()[0]
    return str(error).strip().splitlines()[0]
