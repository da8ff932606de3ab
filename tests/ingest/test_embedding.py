"""The embedding model: offline, normalised vectors, the int8 question encoder, and batches shared by threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

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


def test_calls_made_while_the_model_is_busy_share_its_next_batch_and_each_gets_its_own_rows(
    embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    alone = {question: embedder.encode([question])[0] for question in QUESTIONS}
    model_calls: list[list[str]] = []
    first_call_running = threading.Event()
    encode_now = embedder._encode_now

    def held_first(texts: Sequence[str], *, progress: bool) -> np.ndarray:
        model_calls.append(list(texts))
        if len(model_calls) == 1:  # keep the model busy until the other callers have queued behind it
            first_call_running.set()
            deadline = time.monotonic() + 30
            while len(embedder._queue) < len(QUESTIONS) - 1 and time.monotonic() < deadline:
                time.sleep(0.005)
        return encode_now(texts, progress=progress)

    monkeypatch.setattr(embedder, "_encode_now", held_first)
    results: dict[str, np.ndarray] = {}

    def ask(question: str) -> None:
        results[question] = embedder.encode([question])[0]

    first = threading.Thread(target=ask, args=(QUESTIONS[0],))
    first.start()
    assert first_call_running.wait(30)
    others = [threading.Thread(target=ask, args=(question,)) for question in QUESTIONS[1:]]
    for thread in others:
        thread.start()
    for thread in [first, *others]:
        thread.join(60)

    assert model_calls[0] == [QUESTIONS[0]]
    assert sorted(model_calls[1]) == sorted(QUESTIONS[1:])  # the two waiting calls: one model call
    assert len(model_calls) == 2
    for question in QUESTIONS:  # padding in a batch moves a vector by rounding error only
        assert np.allclose(results[question], alone[question], atol=1e-5)


def test_a_failed_model_call_fails_only_its_callers_and_the_next_call_works(
    embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    encode_now = embedder._encode_now
    failures = iter([RuntimeError("out of memory")])

    def fails_once(texts: Sequence[str], *, progress: bool) -> np.ndarray:
        for failure in failures:
            raise failure
        return encode_now(texts, progress=progress)

    monkeypatch.setattr(embedder, "_encode_now", fails_once)
    with pytest.raises(RuntimeError, match="out of memory"):
        embedder.encode(QUESTIONS[:1])
    assert embedder.encode(QUESTIONS[:1]).shape == (1, 384)
