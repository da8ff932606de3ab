"""The vector index chosen by size: exact search for small collections, IVF (8-bit or PQ codes) for large ones."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
import pytest

from ingest import Embedder, IngestError, build_index, load_documents, load_index
from ingest.vector_search import EXACT_LIMIT, PQ_MINIMUM, build_vector_index, resolve_kind

from ..conftest import CORPUS


def clustered_vectors(count: int, dimension: int = 64, seed: int = 3) -> np.ndarray:
    """Normalised vectors around 200 topics: shaped like real passage embeddings, unlike uniform noise."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(200, dimension))
    vectors = centres[rng.integers(0, 200, count)] + 0.35 * rng.normal(size=(count, dimension))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32)


def test_auto_is_exact_until_the_limit() -> None:
    assert resolve_kind("auto", EXACT_LIMIT) == "flat"
    assert resolve_kind("auto", EXACT_LIMIT + 1) == "ivf-sq8"
    with pytest.raises(IngestError, match="unknown vector index"):
        resolve_kind("hnsw-magic", 10)


# ivf-pq at the smallest collection it trains on: its code books have the fewest points to learn from, and their
# training (32 k-means of 256 centroids here) takes half as long as at 20,000
@pytest.mark.parametrize(
    ("kind", "count", "least_recall"), [("ivf-sq8", 20_000, 0.95), ("ivf-pq", PQ_MINIMUM, 0.6)]
)
def test_approximate_indexes_find_what_exact_search_finds(kind: str, count: int, least_recall: float) -> None:
    vectors = clustered_vectors(count)
    queries = clustered_vectors(200, seed=4)
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    _, truth = exact.search(queries, 10)
    index, settings = build_vector_index(vectors, kind)
    assert settings["kind"] == kind and settings["nprobe"] >= 1
    _, found = index.search(queries, 10)
    recall = np.mean([len(set(t) & set(f)) / 10 for t, f in zip(truth, found, strict=True)])
    assert recall >= least_recall


def test_pq_refuses_a_collection_too_small_to_train_on() -> None:
    with pytest.raises(IngestError, match="ivf-pq needs at least"):
        build_vector_index(clustered_vectors(PQ_MINIMUM - 1), "ivf-pq")


def test_an_ivf_index_is_saved_with_its_search_settings(tmp_path: Path, embedder: Embedder) -> None:
    build_index(
        load_documents([CORPUS]).documents, tmp_path / "index", embedder=embedder, vector_index="ivf-sq8"
    )
    index = load_index(tmp_path / "index")
    assert index.manifest.vector_index["kind"] == "ivf-sq8"
    assert faiss.extract_index_ivf(index.faiss_index).nprobe == index.manifest.vector_index["nprobe"]
    [hits] = index.search(
        embedder.encode(["When was election infrastructure designated critical infrastructure?"]), 3
    )
    assert "January 6, 2017" in " ".join(index.passages[hit.passage].text for hit in hits)
