"""``citewell bench scale``: recall@10 against exact search, search latency, bytes per vector and build time of
the vector index at 100,000 and 1,000,000 passages (real passage vectors repeated with noise, renormalised)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import faiss
import numpy as np

from ingest import (
    load_index,
)
from ingest.vector_search import build_vector_index
from service.measurement.benchmarks.harness import percentile_ms


def synthetic_vectors(seeds: np.ndarray, count: int, noise: float, seed: int) -> np.ndarray:
    """``count`` vectors: random real passage vectors, each moved by Gaussian noise, renormalised."""
    rng = np.random.default_rng(seed)
    out = np.empty((count, seeds.shape[1]), dtype=np.float32)
    for begin in range(0, count, 100_000):
        rows = min(100_000, count - begin)
        block = seeds[rng.integers(0, len(seeds), rows)] + rng.normal(0, noise, (rows, seeds.shape[1]))
        out[begin : begin + rows] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def bench_scale(
    index_dir: Path, counts: Sequence[int], *, queries: int = 500, kind: str = "auto", noise: float = 0.04
) -> list[dict[str, float | str]]:
    seeds = np.asarray(load_index(index_dir).vectors, dtype=np.float32)
    results: list[dict[str, float | str]] = []
    for count in counts:
        vectors = synthetic_vectors(seeds, count, noise, seed=1)
        asked = synthetic_vectors(seeds, queries, noise, seed=2)
        exact = faiss.IndexFlatIP(vectors.shape[1])
        exact.add(vectors)
        _, truth = exact.search(asked, 10)
        exact_latency = _one_at_a_time(exact, asked[:200])
        del exact
        began = time.perf_counter()
        index, settings = build_vector_index(vectors, kind)
        built = time.perf_counter() - began
        _, found = index.search(asked, 10)
        recall = float(np.mean([len(set(t) & set(f)) / 10 for t, f in zip(truth, found, strict=True)]))
        results.append(
            {
                "passages": float(count),
                "kind": str(settings["kind"]),
                "recall_at_10": recall,
                "search_p50_ms": percentile_ms(_one_at_a_time(index, asked[:200]), 50),
                "exact_search_p50_ms": percentile_ms(exact_latency, 50),
                "bytes_per_vector": faiss.serialize_index(index).nbytes / count,
                "build_s": built,
            }
        )
        del vectors, index
    return results


def _one_at_a_time(index: faiss.Index, asked: np.ndarray) -> list[float]:
    latencies = []
    for row in range(len(asked)):
        began = time.perf_counter()
        index.search(asked[row : row + 1], 10)
        latencies.append(time.perf_counter() - began)
    return latencies


def format_scale(results: Sequence[dict[str, float | str]]) -> str:
    lines = ["passages  index     recall@10  search p50 ms  (exact ms)  bytes/vector  build s"]
    for r in results:
        lines.append(
            f"{r['passages']:>8.0f}  {r['kind']:<8}  {r['recall_at_10']:>9.3f}  {r['search_p50_ms']:>13.2f}"
            f"  {r['exact_search_p50_ms']:>10.2f}  {r['bytes_per_vector']:>12.0f}  {r['build_s']:>7.1f}"
        )
    return "\n".join(lines)
