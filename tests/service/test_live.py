"""The live answerer: loads in the background and answers repeated questions from its cache."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ingest import DEFAULT_MODEL, Embedder
from service.answering import Turn
from service.errors import NotReady
from service.live import LiveAnswerer


def test_repeated_questions_come_from_the_cache(corpus_index_dir: Path, embedder: Embedder) -> None:
    live = LiveAnswerer(corpus_index_dir, DEFAULT_MODEL, reload_interval=0, embedder=embedder)
    with pytest.raises(NotReady, match="loading"):  # not started: nothing is loaded yet
        live.ask("Who oversees elections?")
    live.start()
    assert live.wait_ready(60)
    question = "When was election infrastructure designated critical infrastructure?"
    first = live.ask(question)
    began = time.perf_counter()
    again = live.ask(question)
    assert time.perf_counter() - began < 0.001  # no model time at all
    assert again is first
    assert live.ask(question, top_k=5) is not first
    history = [
        Turn("user", "What did DHS do?"),
        Turn("assistant", first.answer),
    ]
    assert live.ask(question, history=history) is not first
    assert live.ask(question, history=history) is live.ask(question, history=history)


def test_questions_can_be_encoded_at_int8(corpus_index_dir: Path) -> None:
    live = LiveAnswerer(corpus_index_dir, DEFAULT_MODEL, reload_interval=0, precision="int8")
    live.start()
    assert live.wait_ready(60)
    assert live.status()["query_precision"] == "int8"
    answer = live.ask("When was election infrastructure designated critical infrastructure?")
    assert answer.answered and "January 6, 2017" in answer.answer
