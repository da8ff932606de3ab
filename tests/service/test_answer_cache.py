"""The answer cache, in memory and in a real redis-server: scopes, bounds, expiry, stored answers read back equal,
and a Redis that is down costing nothing but the cache."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
import redis

from ingest import Embedder, Index
from service import create_app
from service.answer_cache import (
    REDIS_FORMAT,
    AnswerKey,
    MemoryAnswerCache,
    RedisAnswerCache,
    open_answer_cache,
)
from service.answering import Answer, Answerer, Turn
from service.errors import ConfigError
from service.retrieval import Retriever

from .conftest import free_port, ready_client

KEY: AnswerKey = ("What did DHS do in January 2017?", (), 3)


@pytest.fixture(scope="module")
def answers(corpus_index: Index, embedder: Embedder) -> list[Answer]:
    """A real answer (passages, highlights, a confidence), a refusal (topics, a message), and a follow-up's."""
    answerer = Answerer(Retriever(corpus_index, embedder))
    first = answerer.ask(KEY[0])
    follow_up = answerer.ask("Which agency did that?", history=[Turn("user", KEY[0])])
    refusal = answerer.ask("What is the boiling point of tungsten?")
    assert first.answered and not refusal.answered and refusal.topics
    return [first, follow_up, refusal]


def test_memory_keeps_the_most_recently_used_answers_each_of_its_own_index_version() -> None:
    cache = MemoryAnswerCache(size=2, seconds=60)
    answer = Answer(False, "", ())
    for question in ("a", "b"):
        cache.put("v-1", (question, (), 3), answer)
    assert cache.get("v-1", ("a", (), 3)) is answer  # now the most recently used
    cache.put("v-1", ("c", (), 3), answer)
    assert cache.get("v-1", ("b", (), 3)) is None  # the least recently used went past size
    assert cache.get("v-2", ("c", (), 3)) is None  # another index version never sees it
    assert cache.stats() == {"kind": "memory", "hits": 1, "misses": 2, "errors": 0}


def test_memory_entries_expire_and_size_zero_keeps_none() -> None:
    expiring = MemoryAnswerCache(size=4, seconds=0.05)
    expiring.put("v-1", KEY, Answer(False, "", ()))
    time.sleep(0.1)
    assert expiring.get("v-1", KEY) is None
    off = open_answer_cache(
        "redis://127.0.0.1:1", size=0, seconds=60
    )  # size 0 turns the cache off, URI or not
    assert isinstance(off, MemoryAnswerCache)
    off.put("v-1", KEY, Answer(False, "", ()))
    assert off.get("v-1", KEY) is None


def test_redis_reads_back_answers_equal_to_those_stored(redis_url: str, answers: list[Answer]) -> None:
    cache = RedisAnswerCache(redis_url, size=16, seconds=60)
    keys: list[AnswerKey] = [KEY, ("Which agency did that?", (("user", KEY[0]),), 3), ("Tungsten?", (), 5)]
    for key, answer in zip(keys, answers, strict=True):
        cache.put("v-equal", key, answer)
    for key, answer in zip(keys, answers, strict=True):
        stored = cache.get("v-equal", key)
        assert stored == answer
        assert (
            stored is not None and stored.confidence == answer.confidence
        )  # not part of ==, the log reads it
    assert cache.get("v-other", KEY) is None
    assert cache.stats() == {"kind": "redis", "hits": 3, "misses": 1, "errors": 0}


def test_redis_keeps_at_most_size_answers_per_version_each_expiring(redis_url: str) -> None:
    cache = RedisAnswerCache(redis_url, size=3, seconds=30)
    for n in range(5):
        cache.put("v-bounded", (f"question {n}", (), 3), Answer(False, "", ()))
    with redis.Redis.from_url(redis_url) as client:
        entries = list(client.scan_iter(f"{REDIS_FORMAT}:{{v-bounded}}:*"))
        assert len(entries) == 3
        kept = [cache.get("v-bounded", (f"question {n}", (), 3)) is not None for n in range(5)]
        assert kept == [False, False, True, True, True]  # the oldest went first
        assert all(0 < client.ttl(entry) <= 30 for entry in entries)
        assert (
            0 < client.ttl(f"{REDIS_FORMAT}:{{v-bounded}}") <= 30
        )  # the version's order goes with its entries


def test_a_redis_that_is_down_is_logged_once_and_costs_only_the_cache(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = RedisAnswerCache(f"redis://:secret@127.0.0.1:{free_port()}/0", size=16, seconds=60)
    with caplog.at_level(logging.WARNING, logger="service.answer_cache"):
        for _ in range(3):
            cache.put("v-1", KEY, Answer(False, "", ()))
            assert cache.get("v-1", KEY) is None
    [warning] = caplog.records
    assert "answering uncached" in warning.getMessage() and "secret" not in warning.getMessage()
    assert cache.stats()["errors"] == 6 and cache.stats()["hits"] == 0


def test_answers_do_not_fail_when_the_shared_cache_is_down(
    corpus_index_dir: Path, embedder: Embedder
) -> None:
    client = ready_client(
        corpus_index_dir, embedder, ANSWER_CACHE_URI=f"redis://127.0.0.1:{free_port()}", RATE_LIMIT=""
    )
    for _ in range(2):
        response = client.post("/api/ask", json={"question": KEY[0]})
        assert response.status_code == 200 and response.json["answered"]
    assert client.get("/api/ready").json["answer_cache"] == {
        "kind": "redis",
        "hits": 0,
        "misses": 0,
        "errors": 4,
    }


def test_the_answer_cache_takes_only_a_redis_url(corpus_index_dir: Path) -> None:
    with pytest.raises(ConfigError, match="ANSWER_CACHE_URI"):
        create_app({"INDEX": str(corpus_index_dir), "ANSWER_CACHE_URI": "memcached://127.0.0.1:11211"})
