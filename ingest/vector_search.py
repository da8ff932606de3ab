"""The FAISS index over passage vectors, chosen by collection size: exact search while it is cheap, an inverted
file with 8-bit scalar quantisation (about a quarter of the memory) above, and product quantisation on request
for the largest collections. Figures behind the choice: ``citewell bench scale`` (README, Benchmarks).
"""

from __future__ import annotations

import math
from typing import Any

import faiss
import numpy as np

from ingest.embedding import Vectors
from ingest.errors import IngestError

KINDS = ("auto", "flat", "ivf-sq8", "ivf-pq")
# Exact search costs about 0.15 ms per 1,000 passages on two cores (bench scale: 14.6 ms at 100,000); up to
# here it stays well under the cost of encoding the question, and needs no training.
EXACT_LIMIT = 50_000
# Inverted lists searched per question: recall@10 >= 0.95 against exact search at 1M passages (bench scale).
DEFAULT_NPROBE = 32
_TRAINING_POINTS_PER_LIST = 64
# product quantisation learns 256 codes per sub-vector: it needs that many points, with room to spare
PQ_MINIMUM = 10_000
_ADD_CHUNK = 65536


def resolve_kind(kind: str, count: int) -> str:
    if kind not in KINDS:
        raise IngestError(f"unknown vector index {kind!r}; choose one of {', '.join(KINDS)}")
    if kind == "auto":
        return "flat" if count <= EXACT_LIMIT else "ivf-sq8"
    return kind


def build_vector_index(
    vectors: Vectors, kind: str = "auto", *, seed: int = 13
) -> tuple[faiss.Index, dict[str, Any]]:
    """An inner-product index over normalised vectors (cosine similarity) and its manifest entry."""
    count, dimension = vectors.shape
    kind = resolve_kind(kind, count)
    if kind == "flat":
        index: faiss.Index = faiss.IndexFlatIP(dimension)
        settings: dict[str, Any] = {"kind": "flat"}
    else:
        lists = int(min(max(2 * math.sqrt(count), 16), 16384, max(count // 39, 1)))
        quantizer = faiss.IndexFlatIP(dimension)
        if kind == "ivf-sq8":
            index = faiss.IndexIVFScalarQuantizer(
                quantizer, dimension, lists, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
            )
        else:  # a few dozen bytes a vector: for collections whose float vectors would not fit in memory
            if count < PQ_MINIMUM:
                raise IngestError(
                    f"ivf-pq needs at least {PQ_MINIMUM:,} passages to train on; this has {count:,}"
                )
            # 48 one-byte codes for 384 dimensions; a divisor of the dimension for other models
            codes = next(m for m in (48, 32, 24, 16, 12, 8, 6, 4, 2, 1) if dimension % m == 0)
            index = faiss.IndexIVFPQ(quantizer, dimension, lists, codes, 8, faiss.METRIC_INNER_PRODUCT)
        sample = np.sort(
            np.random.default_rng(seed).choice(
                count, min(count, lists * _TRAINING_POINTS_PER_LIST), replace=False
            )
        )
        index.train(np.ascontiguousarray(vectors[sample], dtype=np.float32))
        nprobe = min(DEFAULT_NPROBE, lists)
        faiss.extract_index_ivf(index).nprobe = nprobe
        settings = {"kind": kind, "lists": lists, "nprobe": nprobe}
    for begin in range(0, count, _ADD_CHUNK):
        index.add(np.ascontiguousarray(vectors[begin : begin + _ADD_CHUNK], dtype=np.float32))
    return index, settings


def tune_loaded(index: faiss.Index, settings: dict[str, Any]) -> None:
    """Apply search-time settings (FAISS does not store nprobe in the index file)."""
    if str(settings.get("kind", "flat")).startswith("ivf"):
        faiss.extract_index_ivf(index).nprobe = int(settings["nprobe"])
