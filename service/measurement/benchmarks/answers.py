"""``citewell bench answers``: whole answers from a collection of N passages against the same from a
one-document collection. The large collection is the index's real documents repeated under new ids, their real
vectors moved by noise (no model runs for passages at ingest; with sentence vectors, each distinct sentence is
encoded once)."""

from __future__ import annotations

import dataclasses
import resource
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ingest import (
    Document,
    Embedder,
    Index,
    build_index,
    load_index,
)
from ingest.build import embedding_input
from ingest.embedding import Vectors
from service.answering import Answerer, AnswerSettings
from service.measurement.benchmarks.harness import percentile_ms
from service.retrieval import Retriever


class ReplayEmbedder:
    """Stands in for the model at ingest (an ``ingest.embedding.Encoder``): a passage text of ``index`` gets its
    stored vector, moved by Gaussian noise and renormalised, so repeated documents are near, not identical. Any
    other text (a sentence, for sentence vectors) is encoded by the real model once, then replayed the same way."""

    def __init__(self, index: Index, noise: float, seed: int = 3) -> None:
        self.name = index.model
        self.dimension = int(index.vectors.shape[1])
        self._seeds = np.asarray(index.vectors, dtype=np.float32)
        self._rows = {
            embedding_input(passage, index.documents[passage.document]): row
            for row, passage in enumerate(index.passages)
        }
        self._noise = noise
        self._rng = np.random.default_rng(seed)
        self._others: dict[str, Vectors] = {}
        self._real: Embedder | None = None

    def encode_batches(self, texts: Sequence[str], chunk: int = 4096) -> Iterator[Vectors]:
        for begin in range(0, len(texts), chunk):
            yield self._replayed(texts[begin : begin + chunk])

    def _replayed(self, texts: Sequence[str]) -> Vectors:
        unknown = list(dict.fromkeys(t for t in texts if t not in self._rows and t not in self._others))
        if unknown:
            self._real = self._real or Embedder(self.name)
            self._others.update(zip(unknown, self._real.encode(unknown), strict=True))
        block = np.stack([self._seeds[self._rows[t]] if t in self._rows else self._others[t] for t in texts])
        block = block + self._rng.normal(0, self._noise, block.shape).astype(np.float32)
        return np.asarray(block / np.linalg.norm(block, axis=1, keepdims=True), dtype=np.float32)


def repeated_documents(documents: Sequence[Document], copies: int) -> list[Document]:
    return [
        dataclasses.replace(doc, id=f"{doc.id}~{copy}" if copy else doc.id)
        for copy in range(copies)
        for doc in documents
    ]


def bench_answers(
    index_dir: Path, counts: Sequence[int], questions: Sequence[str], *, kind: str = "auto", noise: float = 0.02,
    work_dir: Path | None = None, precision: str = "float32", sentence_vectors: bool = False,
) -> Iterator[dict[str, Any]]:  # fmt: skip
    """For each of ``counts``: answer latency from that many passages against a one-document collection, each
    question asked of both; ``sentence_vectors`` builds both with them. One replay serves every count, so each
    distinct sentence is encoded by the model once for the whole run."""
    base = load_index(index_dir)
    replay = ReplayEmbedder(base, noise)
    for count in counts:
        yield _answers_at(base, replay, count, questions, kind, work_dir, precision, sentence_vectors)


def _answers_at(
    base: Index, replay: ReplayEmbedder, count: int, questions: Sequence[str], kind: str, work_dir: Path | None,
    precision: str, sentence_vectors: bool,
) -> dict[str, Any]:  # fmt: skip
    documents = list(base.documents.values())
    copies = max(1, -(-count // len(base.passages)))
    with tempfile.TemporaryDirectory(dir=work_dir) as folder:
        large_dir, small_dir = Path(folder) / "large", Path(folder) / "small"
        began = time.perf_counter()
        built = build_index(
            repeated_documents(documents, copies),
            large_dir,
            embedder=replay,
            vector_index=kind,
            sentence_vectors=sentence_vectors,
        )
        build_s = time.perf_counter() - began
        build_index(documents[:1], small_dir, embedder=replay, sentence_vectors=sentence_vectors)
        began = time.perf_counter()
        large = load_index(large_dir)
        load_s = time.perf_counter() - began
        small = load_index(small_dir)
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        embedder = Embedder(base.model, precision=precision)
        answerers = {
            "small": Answerer(Retriever(small, embedder)),
            "large": Answerer(Retriever(large, embedder)),
        }
        for answerer in answerers.values():
            answerer.ask(questions[0])  # warm up
        latencies: dict[str, list[float]] = {"small": [], "large": []}
        searches: dict[str, list[float]] = {"small": [], "large": []}
        for question in questions:
            vector = embedder.encode([question])[0]
            for name, answerer in answerers.items():
                began = time.perf_counter()
                answerer.retriever.search(question, AnswerSettings().min_windows, query_vector=vector)
                searches[name].append(time.perf_counter() - began)
                began = time.perf_counter()
                answerer.ask(question)
                latencies[name].append(time.perf_counter() - began)
        vector_index = str(large.manifest.vector_index.get("kind", "flat"))
    return {
        "passages": float(built.passages),
        "documents": float(len(documents) * copies),
        "small_passages": float(small.counts()["passages"]),
        "vector_index": vector_index,
        "query_precision": precision,
        "sentence_vectors": sentence_vectors,
        "questions": float(len(questions)),
        "build_s": build_s,
        "load_s": load_s,
        "peak_rss_mb": rss_mb,
        "small_p50_ms": percentile_ms(latencies["small"], 50),
        "small_p95_ms": percentile_ms(latencies["small"], 95),
        "large_p50_ms": percentile_ms(latencies["large"], 50),
        "large_p95_ms": percentile_ms(latencies["large"], 95),
        "ratio": percentile_ms(latencies["large"], 50) / percentile_ms(latencies["small"], 50),
        # retrieval alone (the question already encoded): what the collection's size itself costs
        "small_search_p50_ms": percentile_ms(searches["small"], 50),
        "large_search_p50_ms": percentile_ms(searches["large"], 50),
    }


def format_answers(result: dict[str, Any]) -> str:
    return (
        f"{result['passages']:.0f} passages ({result['documents']:.0f} documents, {result['vector_index']}): built in "
        f"{result['build_s']:.0f} s, loaded in {result['load_s']:.1f} s, peak memory {result['peak_rss_mb']:.0f} MB\n"
        f"answer p50 {result['large_p50_ms']:.1f} ms (p95 {result['large_p95_ms']:.1f}) against "
        f"{result['small_p50_ms']:.1f} ms (p95 {result['small_p95_ms']:.1f}) from one document "
        f"({result['small_passages']:.0f} passages), {result['questions']:.0f} questions encoded at "
        f"{result['query_precision']}, {'with' if result['sentence_vectors'] else 'without'} sentence vectors: "
        f"ratio {result['ratio']:.2f}\n"
        f"of which retrieval (question already encoded) p50 {result['large_search_p50_ms']:.1f} ms against "
        f"{result['small_search_p50_ms']:.1f} ms"
    )
