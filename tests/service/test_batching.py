"""Questions of concurrent requests share model calls (``service.batching``): one batch for the calls that wait,
each caller its own rows, a failure only for the callers of that batch."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import numpy as np
import pytest

from ingest import Embedder
from service.batching import SharedEncoder

QUESTIONS = [
    "When was election infrastructure designated critical infrastructure?",
    "Who oversees elections in the U.S.?",
    "What is the boiling point of water?",
]


def test_calls_made_while_the_model_is_busy_share_its_next_batch_and_each_gets_its_own_rows(
    embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    alone = {question: embedder.encode([question])[0] for question in QUESTIONS}
    shared = SharedEncoder(embedder)
    model_calls: list[list[str]] = []
    first_call_running = threading.Event()
    encode_now = embedder.encode

    def held_first(texts: Sequence[str]) -> np.ndarray:
        model_calls.append(list(texts))
        if len(model_calls) == 1:  # keep the model busy until the other callers have queued behind it
            first_call_running.set()
            deadline = time.monotonic() + 30
            while shared.waiting() < len(QUESTIONS) - 1 and time.monotonic() < deadline:
                time.sleep(0.005)
        return encode_now(texts)

    monkeypatch.setattr(embedder, "encode", held_first)
    results: dict[str, np.ndarray] = {}

    def ask(question: str) -> None:
        results[question] = shared.encode([question])[0]

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
    shared = SharedEncoder(embedder)
    encode_now = embedder.encode
    failures = iter([RuntimeError("out of memory")])

    def fails_once(texts: Sequence[str]) -> np.ndarray:
        for failure in failures:
            raise failure
        return encode_now(texts)

    monkeypatch.setattr(embedder, "encode", fails_once)
    with pytest.raises(RuntimeError, match="out of memory"):
        shared.encode(QUESTIONS[:1])
    assert shared.encode(QUESTIONS[:1]).shape == (1, 384)
