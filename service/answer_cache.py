"""Answers already given, kept per index version: in this process, or in Redis where replicas share them.

An entry's scope names the index version (and the settings that shape answers), so a new index never serves an
old answer. Entries expire after ``seconds`` and at most ``size`` are kept (per process in memory, per scope in
Redis). A Redis that cannot be reached never fails an answer: it is logged once and answers go uncached until
it is back.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import Counter, OrderedDict
from dataclasses import asdict
from typing import Any, TypedDict

import redis

from service.answering import Answer, AnswerPassage, Highlight, Source, Turn

logger = logging.getLogger(__name__)

# a question, its conversation so far (turns), and top_k: what makes two asks the same
AnswerKey = tuple[str, tuple[Turn, ...], int]

# after Redis fails, answers go uncached for this long before it is tried again, so a Redis that hangs costs at
# most one request per process a timeout every few seconds
REDIS_RETRY_SECONDS = 5.0
REDIS_TIMEOUT_SECONDS = 0.5
# part of every Redis key: a change to how answers are stored changes it, so old entries are never misread
REDIS_FORMAT = "citewell:answer:1"

# One round trip per store, atomic: the entry with its expiry, its place in the scope's order (a sorted set by
# time stored), then the scope trimmed to the most entries kept, oldest first.
# KEYS: the scope's order, the entry. ARGV: the answer, seconds, now, most kept.
_STORE = """
redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2])
redis.call('ZADD', KEYS[1], ARGV[3], KEYS[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[3]) - tonumber(ARGV[2]))
redis.call('EXPIRE', KEYS[1], ARGV[2])
local over = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[4])
if over > 0 then
  for _, key in ipairs(redis.call('ZRANGE', KEYS[1], 0, over - 1)) do redis.call('DEL', key) end
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, over - 1)
end
"""


class CacheStats(TypedDict):
    kind: str
    hits: int
    misses: int
    errors: int


class AnswerCache:
    """What both caches share: ``get`` and ``put`` by scope and key, and counts of hits, misses and errors."""

    kind: str

    def __init__(self, *, size: int, seconds: float) -> None:
        self.size = size
        self.seconds = seconds
        self._counts: Counter[str] = Counter()
        self._counts_lock = threading.Lock()

    def get(self, scope: str, key: AnswerKey) -> Answer | None:
        raise NotImplementedError

    def put(self, scope: str, key: AnswerKey, answer: Answer) -> None:
        raise NotImplementedError

    def stats(self) -> CacheStats:
        """This process's counts since it started."""
        with self._counts_lock:
            counts = self._counts
            return CacheStats(
                kind=self.kind, hits=counts["hits"], misses=counts["misses"], errors=counts["errors"]
            )

    def _count(self, what: str) -> None:
        with self._counts_lock:
            self._counts[what] += 1


class MemoryAnswerCache(AnswerCache):
    """The most recently used answers, in this process; ``size=0`` keeps none.

    Example:
        >>> cache = MemoryAnswerCache(size=2, seconds=60)
        >>> cache.put("v-1", ("Who?", (), 3), Answer(False, "", ()))
        >>> cache.get("v-1", ("Who?", (), 3)).answered, cache.get("v-2", ("Who?", (), 3))
        (False, None)
    """

    kind = "memory"

    def __init__(self, *, size: int, seconds: float) -> None:
        super().__init__(size=size, seconds=seconds)
        # an old index's answers are never read again: they go as the newest push them out, or expire
        self._entries: OrderedDict[tuple[str, AnswerKey], tuple[float, Answer]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, scope: str, key: AnswerKey) -> Answer | None:
        with self._lock:
            entry = self._entries.get((scope, key))
            if entry is not None and entry[0] > time.monotonic():
                self._entries.move_to_end((scope, key))
            else:
                entry = None
        self._count("misses" if entry is None else "hits")
        return None if entry is None else entry[1]

    def put(self, scope: str, key: AnswerKey, answer: Answer) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._entries[(scope, key)] = (time.monotonic() + self.seconds, answer)
            self._entries.move_to_end((scope, key))
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)


class RedisAnswerCache(AnswerCache):
    """Answers in Redis at ``url``, shared by every process and machine that uses it; at most ``size`` per scope.

    Example:
        >>> cache = RedisAnswerCache("redis://127.0.0.1:6379", size=1024, seconds=3600)
    """

    kind = "redis"

    def __init__(self, url: str, *, size: int, seconds: float) -> None:
        super().__init__(size=size, seconds=seconds)
        self._client = redis.Redis.from_url(
            url, socket_connect_timeout=REDIS_TIMEOUT_SECONDS, socket_timeout=REDIS_TIMEOUT_SECONDS
        )
        self._store = self._client.register_script(_STORE)
        place = self._client.connection_pool.connection_kwargs
        # never the URL itself in a log: it may hold a password
        self._where = place.get("path") or f"{place.get('host')}:{place.get('port')}/{place.get('db', 0)}"
        self._down_since: float | None = None  # monotonic time of the failure that began an outage
        self._retry_at = 0.0

    def get(self, scope: str, key: AnswerKey) -> Answer | None:
        if not self._reachable():
            return None
        try:
            stored = self._client.get(_entry_key(scope, key))
        except redis.RedisError as exc:
            self._failed(exc)
            return None
        self._recovered()
        answer = _decoded(stored) if stored is not None else None
        self._count("misses" if answer is None else "hits")
        return answer

    def put(self, scope: str, key: AnswerKey, answer: Answer) -> None:
        if self.size <= 0 or not self._reachable():
            return
        try:
            self._store(
                keys=[f"{REDIS_FORMAT}:{{{scope}}}", _entry_key(scope, key)],
                args=[_encoded(answer), max(1, round(self.seconds)), time.time(), self.size],
            )
        except redis.RedisError as exc:
            self._failed(exc)
            return
        self._recovered()

    def _reachable(self) -> bool:
        if self._down_since is None or time.monotonic() >= self._retry_at:
            return True
        self._count("errors")
        return False

    def _failed(self, exc: redis.RedisError) -> None:
        self._count("errors")
        self._retry_at = time.monotonic() + REDIS_RETRY_SECONDS
        if self._down_since is None:
            self._down_since = time.monotonic()
            logger.warning(
                "the answer cache in Redis (%s) failed: %s; answering uncached until it is back",
                self._where,
                exc,
            )

    def _recovered(self) -> None:
        if self._down_since is not None:
            logger.info(
                "the answer cache in Redis (%s) is back after %.0f s",
                self._where,
                time.monotonic() - self._down_since,
            )
            self._down_since = None


def open_answer_cache(url: str, *, size: int, seconds: float) -> AnswerCache:
    """The cache that ``ANSWER_CACHE_URI`` names: "" keeps answers in this process, ``redis://`` (``rediss://``,
    ``unix://``) shares them; ``size=0`` keeps none."""
    if url and size > 0:
        return RedisAnswerCache(url, size=size, seconds=seconds)
    return MemoryAnswerCache(size=size, seconds=seconds)


def _entry_key(scope: str, key: AnswerKey) -> str:
    question, history, top_k = key
    digest = hashlib.sha256(json.dumps([question, history, top_k]).encode("utf-8")).hexdigest()
    return f"{REDIS_FORMAT}:{{{scope}}}:{digest}"


def _encoded(answer: Answer) -> str:
    return json.dumps(asdict(answer), ensure_ascii=False)


def _decoded(stored: Any) -> Answer | None:
    """The answer stored, or None when it cannot be read (the cache then misses rather than fails)."""
    try:
        fields = json.loads(stored)
        return Answer(
            answered=fields["answered"],
            answer=fields["answer"],
            passages=tuple(
                AnswerPassage(
                    text=p["text"],
                    score=p["score"],
                    highlights=tuple(Highlight(**h) for h in p["highlights"]),
                    source=Source(**p["source"]),
                    code=tuple(Highlight(**c) for c in p["code"]),
                )
                for p in fields["passages"]
            ),
            message=fields["message"],
            confidence=fields["confidence"],
            topics=tuple(fields["topics"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        logger.warning("an answer in the cache could not be read (%s); answering anew", exc)
        return None
