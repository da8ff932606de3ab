"""``citewell bench ingest``: passages/s and peak memory of ``build_index`` against bare ``model.encode`` of the
same texts; with a Ray address, also the build on that cluster with 1 and 2 embedding actors."""

from __future__ import annotations

import resource
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ingest import (
    Document,
    Embedder,
    build_index,
    chunk_document,
    load_documents,
)
from ingest.build import embedding_input
from ingest.index import SENTENCE_VECTORS


def bench_ingest(
    paths: Sequence[Path],
    model: str | None = None,
    *,
    sentence_vectors: bool = False,
    ray_address: str | None = None,
) -> dict[str, float]:
    """build_index against bare encoding of exactly the texts it embeds; peak memory. With ``sentence_vectors``,
    also a build with them, and its time against the build without. With ``ray_address``, also the build on
    that Ray cluster (``ingest.cluster``) with 1 and 2 embedding actors, against the single-process build."""
    documents = load_documents(paths).documents
    embedder = Embedder(model) if model else Embedder()
    texts = [embedding_input(passage, doc) for doc in documents for passage in chunk_document(doc)]
    embedder.encode(texts[:8])  # warm up
    began = time.perf_counter()
    for _ in embedder.encode_batches(texts):
        pass
    bare = time.perf_counter() - began
    with tempfile.TemporaryDirectory() as folder:
        began = time.perf_counter()
        report = build_index(documents, Path(folder) / "index", embedder=embedder, sentence_vectors=False)
        built = time.perf_counter() - began
    result = {
        "documents": float(len(documents)),
        "passages": float(report.passages),
        "bare_passages_per_s": len(texts) / bare,
        "ingest_passages_per_s": report.passages / built,
        "ingest_ratio": (report.passages / built) / (len(texts) / bare),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    if sentence_vectors:
        with tempfile.TemporaryDirectory() as folder:
            began = time.perf_counter()
            build_index(documents, Path(folder) / "index", embedder=embedder, sentence_vectors=True)
            result["sentence_vectors_passages_per_s"] = report.passages / (time.perf_counter() - began)
            sentences = np.load(next(Path(folder).glob("index/v-*")) / SENTENCE_VECTORS, mmap_mode="r")
            result["sentences"] = float(len(sentences))
        result["sentence_vectors_time_ratio"] = (
            result["ingest_passages_per_s"] / result["sentence_vectors_passages_per_s"]
        )
    if ray_address is not None:
        for actors in RAY_ACTORS:
            result.update(_ray_ingest(documents, embedder.name, ray_address, actors, result))
    return result


# the actor counts `bench ingest --ray` measures
RAY_ACTORS = (1, 2)


def _ray_ingest(
    documents: Sequence[Document], model: str, address: str, actors: int, single: dict[str, float]
) -> dict[str, float]:
    """The build of ``documents`` on a Ray cluster with ``actors`` embedding actors, their models loaded before
    the clock starts (as the single-process build's is): passages/s, and against the single-process build."""
    from ingest.cluster import RayWorkers

    with RayWorkers(address, model=model, actors=actors) as workers, tempfile.TemporaryDirectory() as folder:
        workers.start()
        began = time.perf_counter()
        report = build_index(
            documents, Path(folder) / "index", embedder=workers, executor=workers, sentence_vectors=False
        )
        per_s = report.passages / (time.perf_counter() - began)
        return {
            f"ray_{actors}_passages_per_s": per_s,
            f"ray_{actors}_ratio": per_s / single["ingest_passages_per_s"],
            f"ray_{actors}_threads": float(workers.threads),
            f"ray_{actors}_gpu": float(workers.device != "cpu"),
            f"ray_{actors}_startup_s": workers.startup_seconds,
        }


def format_ingest(result: dict[str, float]) -> str:
    lines = [
        f"{result['documents']:.0f} documents, {result['passages']:.0f} passages: ingest "
        f"{result['ingest_passages_per_s']:.1f} passages/s vs bare encode {result['bare_passages_per_s']:.1f}/s "
        f"(ratio {result['ingest_ratio']:.2f}); peak memory {result['peak_rss_mb']:.0f} MB"
    ]
    if "sentences" in result:
        lines.append(
            f"with sentence vectors ({result['sentences']:.0f} sentences): "
            f"{result['sentence_vectors_passages_per_s']:.1f} passages/s, "
            f"{result['sentence_vectors_time_ratio']:.2f}x the time of the build without"
        )
    for actors in RAY_ACTORS:
        if f"ray_{actors}_ratio" in result:
            figures = {
                name: result[f"ray_{actors}_{name}"]
                for name in ("passages_per_s", "ratio", "threads", "startup_s")
            }
            device = "a GPU, fp16" if result[f"ray_{actors}_gpu"] else f"{figures['threads']:.0f} CPU threads"
            lines.append(
                f"on Ray, {actors} actor(s) of {device} each: {figures['passages_per_s']:.1f} passages/s, ratio "
                f"to the single-process build {figures['ratio']:.2f} (actors started in "
                f"{figures['startup_s']:.1f} s, not counted)"
            )
    return "\n".join(lines)
