"""The answerer a running service uses: loaded in the background, swapped for a new one when the index changes.

A request takes the current ``Answerer`` once and keeps it to the end, so a reload never disturbs a request in
flight; a new index is loaded beside the old one and replaces it with a single reference swap. A new index that
fails to load is logged and the previous one keeps serving.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ingest import Embedder, IngestError
from ingest.index import current_version
from service.answer_cache import AnswerCache, AnswerKey, MemoryAnswerCache
from service.answering import Answer, Answerer, AnswerSettings, Turn
from service.batching import SharedEncoder
from service.config import DEFAULTS
from service.errors import NotReady

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Loaded:
    """One loaded index with its answerer and the scope of its cached answers: its version and the settings that
    shape answers, so neither a new index nor another setting is ever answered from the cache of the old."""

    answerer: Answerer
    version_dir: Path
    cache_scope: str


def cache_scope(answerer: Answerer) -> str:
    shaping = f"{answerer.index.model}|{answerer.retriever.embedder.precision}|{answerer.settings!r}"
    return f"{answerer.index.version_dir.name}.{hashlib.sha256(shaping.encode()).hexdigest()[:12]}"


class LiveAnswerer:
    """Holds the served ``Answerer``; ``start()`` loads it in a thread and then watches the index directory.

    Example:
        >>> live = LiveAnswerer(Path(".citewell/index"), "sentence-transformers/all-MiniLM-L6-v2")
        >>> live.start(); live.wait_ready(60)
        True
        >>> live.get().ask("What did DHS do in January 2017?").answered
        True
    """

    def __init__(
        self,
        index_dir: Path,
        model: str,
        settings: AnswerSettings | None = None,
        *,
        precision: str = "float32",
        reload_interval: float = 2.0,
        cache: AnswerCache | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        self.index_dir = index_dir
        self.model = model
        self.precision = precision
        self.settings = settings or AnswerSettings()
        self.reload_interval = reload_interval
        self.cache = cache or MemoryAnswerCache(
            size=DEFAULTS["ANSWER_CACHE_SIZE"], seconds=DEFAULTS["ANSWER_CACHE_SECONDS"]
        )
        self._encoder = SharedEncoder(embedder) if embedder is not None else None
        self._loaded: Loaded | None = None
        self._problem: str = "the index is loading"
        self._failed_version: Path | None = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="citewell-index", daemon=True)
            self._thread.start()

    def ask(self, question: str, history: Sequence[Turn] = (), top_k: int = 3) -> Answer:
        """Answer with the current index; a question asked before (same history, same top_k) comes from the cache."""
        loaded = self._loaded
        if loaded is None:
            raise NotReady(self._problem)
        key: AnswerKey = (question, tuple(history), top_k)
        answer = self.cache.get(loaded.cache_scope, key)
        if answer is None:
            # answers are frozen values, so one can be handed to every request that asks the same thing
            answer = loaded.answerer.ask(question, history=history, top_k=top_k)
            self.cache.put(loaded.cache_scope, key, answer)
        return answer

    def get(self) -> Answerer:
        loaded = self._loaded
        if loaded is None:
            raise NotReady(self._problem)
        return loaded.answerer

    def wait_ready(self, timeout: float | None = None) -> bool:
        return self._ready.wait(timeout)

    def status(self) -> dict[str, object]:
        loaded = self._loaded
        if loaded is None:
            return {"ready": False, "reason": self._problem}
        index = loaded.answerer.index
        return {
            "ready": True,
            **index.counts(),
            "version": loaded.version_dir.name,
            "model": index.model,
            "query_precision": loaded.answerer.retriever.embedder.precision,
            "sentence_vectors": index.sentence_vectors is not None,
            "answer_cache": self.cache.stats(),
        }

    def _run(self) -> None:
        try:
            if self._encoder is None:
                self._encoder = SharedEncoder(Embedder(self.model, precision=self.precision))
        except IngestError as exc:
            self._problem = f"the model cannot be loaded: {exc}"
            logger.error("%s", self._problem)
            return
        while True:
            try:
                self._refresh(self._encoder)
            except Exception:
                # a bug or a MemoryError must not stop the watcher: keep serving and keep looking
                logger.exception(
                    "could not load the index in %s; still serving what is loaded", self.index_dir
                )
            if self.reload_interval <= 0 and self._loaded is not None:
                return
            time.sleep(self.reload_interval if self.reload_interval > 0 else 5.0)

    def _refresh(self, encoder: SharedEncoder) -> None:
        try:
            version_dir = current_version(self.index_dir)
        except IngestError as exc:
            self._note_problem(None, str(exc))
            return
        loaded = self._loaded
        if version_dir is None:
            self._note_problem(None, f"no index at {self.index_dir}; build one with `citewell ingest`")
            return
        if (loaded is not None and loaded.version_dir == version_dir) or version_dir == self._failed_version:
            return
        try:
            answerer = Answerer.open(
                self.index_dir, model=self.model, settings=self.settings, embedder=encoder
            )
        except IngestError as exc:
            self._note_problem(version_dir, str(exc))
            return
        index = answerer.index
        answerer.ask("What does this collection cover?")  # warm up, so the first visitor does not wait for it
        self._loaded = Loaded(answerer, index.version_dir, cache_scope(answerer))
        self._failed_version = None
        self._ready.set()
        counts = index.counts()
        logger.info(
            "serving index %s (%d documents, %d passages)",
            index.version_dir,
            counts["documents"],
            counts["passages"],
        )

    def _note_problem(self, version_dir: Path | None, problem: str) -> None:
        """Log a problem once; keep serving what is loaded."""
        if problem != self._problem or version_dir != self._failed_version:
            serving = f"; still serving {self._loaded.version_dir}" if self._loaded else ""
            logger.error("%s%s", problem, serving)
        self._problem = problem
        self._failed_version = version_dir
