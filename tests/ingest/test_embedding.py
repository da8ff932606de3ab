"""The embedding model: offline, normalised vectors, and the int8 question encoder."""

from __future__ import annotations

import numpy as np
import pytest

from ingest import Embedder, IngestError

QUESTIONS = [
    "When was election infrastructure designated critical infrastructure?",
    "Who oversees elections in the U.S.?",
    "What is the boiling point of water?",
]


def test_vectors_are_unit_length_float32(embedder: Embedder) -> None:
    vectors = embedder.encode(QUESTIONS)
    assert vectors.dtype == np.float32 and vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_int8_questions_land_near_their_float32_vectors_and_rank_passages_alike(embedder: Embedder) -> None:
    int8 = Embedder(precision="int8")
    assert int8.precision == "int8" and int8.dimension == embedder.dimension
    full, quantized = embedder.encode(QUESTIONS), int8.encode(QUESTIONS)
    assert np.allclose(np.linalg.norm(quantized, axis=1), 1.0, atol=1e-5)
    assert not np.array_equal(full, quantized)  # really a different model
    assert np.all(np.sum(full * quantized, axis=1) > 0.9)
    # each question's nearest question, by either encoder, is itself: the geometry is kept
    assert np.array_equal(np.argmax(quantized @ full.T, axis=1), np.arange(len(QUESTIONS)))


def test_unknown_precision_and_int8_off_the_cpu_are_refused() -> None:
    with pytest.raises(IngestError, match="unknown precision 'int4'"):
        Embedder(precision="int4")
    with pytest.raises(IngestError, match="CPU only"):
        Embedder(device="cuda", precision="int8")
