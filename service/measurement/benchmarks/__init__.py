"""`citewell bench`: speed figures, each printed beside the bare cost it is compared with, in the same run.

- ``query``: /api/ask latency p50/p95/p99 over HTTP (locust, closed loop of 1, 4, 16 clients) and requests/s at
  saturation, against the bare pipeline (``model.encode`` + FAISS search, on the workers' torch thread count,
  also taken in pairs with HTTP answers for the overhead ratio) and bare encode-only throughput.
- ``ingest``: passages/s and peak memory of ``build_index`` against bare ``model.encode`` of the same texts; with
  a Ray address, also the same build on that cluster with 1 and 2 embedding actors, against the single-process
  build.
- ``soak``: a sustained run at saturation with the index rebuilt and swapped in halfway: failed requests and
  the worker's resident memory over time; with several replicas over one index, requests take turns among them.
- ``scale``: recall@10 against exact search, search latency, bytes per vector and build time of the vector index
  at 100,000 and 1,000,000 passages (real passage vectors repeated with Gaussian noise and renormalised).
- ``answers``: whole answers (hybrid retrieval, sentence scoring, quotes) from a collection of N passages against
  the same from a one-document collection, question by question in the same run. The large collection is the
  index's real documents repeated under new ids, their real vectors moved by noise (no model runs for passages
  at ingest; with sentence vectors, each distinct sentence is encoded once).
"""

from __future__ import annotations

import csv
import dataclasses
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import requests
import torch

from ingest import (
    Document,
    Embedder,
    Index,
    build_index,
    chunk_document,
    ingest_paths,
    load_documents,
    load_index,
)
from ingest.build import embedding_input
from ingest.embedding import Vectors
from ingest.index import SENTENCE_VECTORS, current_version
from ingest.vector_search import build_vector_index
from service.answering import Answerer, AnswerSettings
from service.config import SERVE_THREADS
from service.live import LiveAnswerer
from service.retrieval import Retriever

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
CITEWELL = Path(sys.executable).with_name("citewell")
# questions per model call in the bare batched figure: the most clients `bench query` runs by default
BATCH = 16


def percentile_ms(seconds: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(seconds) * 1000, q))


@contextmanager
def on_torch_threads(count: int) -> Iterator[None]:
    """torch on ``count`` threads inside the block, as `citewell serve` runs it in each worker (TORCH_THREADS)."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def bare_query(
    index_dir: Path, questions: Sequence[str], rounds: int, precision: str = "float32", torch_threads: int = 1
) -> dict[str, float]:
    """The physical floor of a query here: encode the question and search FAISS, back to back, with torch on
    ``torch_threads`` threads as in a service worker (TORCH_THREADS) and on every core; encode alone on every
    core (the most questions/s the model allows); and the whole answer in process, as a worker runs it."""
    index = load_index(index_dir)
    embedder = Embedder(index.model, precision=precision)
    embedder.encode(questions[:1])  # warm up
    every_core = torch.get_num_threads()

    def encode_and_search() -> list[float]:
        latencies: list[float] = []
        for _ in range(rounds):
            for question in questions:
                began = time.perf_counter()
                index.search(embedder.encode([question]), 10)
                latencies.append(time.perf_counter() - began)
        return latencies

    on_every_core = encode_and_search()
    began = time.perf_counter()
    encoded = 0
    for _ in range(rounds):
        for question in questions:
            embedder.encode([question])
            encoded += 1
    encode_per_s = encoded / (time.perf_counter() - began)
    # the model's own best: the same questions encoded BATCH at a time, as a busy worker batches the requests
    # waiting on it
    asked = [questions[n % len(questions)] for n in range(max(BATCH, encoded))]
    began = time.perf_counter()
    for first in range(0, len(asked), BATCH):
        embedder.encode(asked[first : first + BATCH])
    batched_per_s = len(asked) / (time.perf_counter() - began)
    live = LiveAnswerer(index_dir, index.model, reload_interval=0, embedder=embedder)
    live.start()
    live.wait_ready(120)
    pipeline: list[float] = []
    hits: list[float] = []
    with on_torch_threads(torch_threads):
        latencies = encode_and_search()
        for question in questions:
            began = time.perf_counter()
            live.ask(question)
            pipeline.append(time.perf_counter() - began)
            began = time.perf_counter()
            live.ask(question)  # asked again: from the answer cache
            hits.append(time.perf_counter() - began)
    return {
        "pipeline_p50_ms": percentile_ms(pipeline, 50),
        "cache_hit_p50_us": percentile_ms(hits, 50) * 1000,
        "torch_threads": float(torch_threads),
        "bare_p50_ms": percentile_ms(latencies, 50),
        "bare_p95_ms": percentile_ms(latencies, 95),
        "every_core_threads": float(every_core),
        "bare_every_core_p50_ms": percentile_ms(on_every_core, 50),
        "bare_encode_per_s": encode_per_s,
        "bare_batched_per_s": batched_per_s,
    }


class Server:
    """`citewell serve` in a subprocess on a free port, for the HTTP benchmarks."""

    def __init__(
        self,
        index_dir: Path,
        *,
        workers: int = 1,
        threads: int = SERVE_THREADS,
        precision: str = "float32",
        torch_threads: int = 1,
    ) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        # no rate limit, no question log, and no answer cache: every request pays the whole pipeline
        env = {
            **os.environ,
            "CITEWELL_RATE_LIMIT": "",
            "CITEWELL_QUESTION_LOG": "off",
            "CITEWELL_ANSWER_CACHE_SIZE": "0",
            "CITEWELL_QUERY_PRECISION": precision,
            "CITEWELL_TORCH_THREADS": str(torch_threads),
        }
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [
                *(str(CITEWELL), "serve", "--index", str(index_dir), "--port", str(self.port)),
                *("--workers", str(workers), "--threads", str(threads)),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def wait_ready(self, timeout: float = 180) -> float:
        """Seconds from start to the first 200 of /api/ready."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"citewell serve exited with {self.process.returncode}")
            try:
                if requests.get(self.url + "/api/ready", timeout=2).status_code == 200:
                    return time.perf_counter() - self.started
            except (requests.ConnectionError, requests.Timeout):
                pass
            time.sleep(0.05)
        raise RuntimeError("citewell serve never became ready")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(60)


def http_load(urls: Sequence[str], questions_file: Path, clients: int, seconds: float) -> dict[str, Any]:
    """A locust run with ``clients`` users asking back to back, each request to the next of ``urls`` (replicas of
    one service) in turn; the percentiles of its aggregated row, and with several URLs the requests each got."""
    with tempfile.TemporaryDirectory() as folder:
        prefix = Path(folder) / "run"
        command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", urls[0]]
        command += ["-u", str(clients), "-r", str(clients), "-t", f"{max(1, round(seconds))}s"]
        command += [
            "--csv",
            str(prefix),
            "--only-summary",
            "--loglevel",
            "WARNING",
            "--exit-code-on-error",
            "0",
        ]
        env = {**os.environ, "CITEWELL_BENCH_QUESTIONS": str(questions_file)}
        if len(urls) > 1:
            env["CITEWELL_BENCH_REPLICAS"] = ",".join(urls)
        run = subprocess.run(command, env=env, capture_output=True, text=True)
        if run.returncode != 0:
            raise RuntimeError(f"locust failed ({run.returncode}): {run.stderr[-2000:]}")
        with (prefix.parent / "run_stats.csv").open(encoding="utf-8") as handle:
            rows = {r["Name"]: r for r in csv.DictReader(handle)}
    row = rows["Aggregated"]
    result: dict[str, Any] = {
        "requests": float(row["Request Count"]),
        "failures": float(row["Failure Count"]),
        "p50_ms": float(row["50%"]),
        "p95_ms": float(row["95%"]),
        "p99_ms": float(row["99%"]),
        "per_s": float(row["Requests/s"]),
    }
    if len(urls) > 1:  # the locustfile names each replica's requests by its URL
        result["requests_by_replica"] = {
            url: float(rows[f"{url}/api/ask"]["Request Count"]) if f"{url}/api/ask" in rows else 0.0
            for url in urls
        }
    return result


def paired_overhead(
    url: str, index_dir: Path, questions: Sequence[str], rounds: int, precision: str, torch_threads: int
) -> dict[str, float]:
    """Each question answered over HTTP by one keep-alive client (``requests``), and right after it encoded and
    searched bare in this process on the workers' torch thread count: pairs taken side by side, so that the
    machine's drift from minute to minute (two milliseconds either way here) falls on both alike."""
    index = load_index(index_dir)
    embedder = Embedder(index.model, precision=precision)
    http: list[float] = []
    bare: list[float] = []
    with on_torch_threads(torch_threads), requests.Session() as session:
        for _ in range(rounds):
            for question in questions:
                began = time.perf_counter()
                session.post(url + "/api/ask", json={"question": question}, timeout=30).raise_for_status()
                http.append(time.perf_counter() - began)
                began = time.perf_counter()
                index.search(embedder.encode([question]), 10)
                bare.append(time.perf_counter() - began)
    return {"http_p50_ms": percentile_ms(http, 50), "bare_p50_ms": percentile_ms(bare, 50)}


def bench_query(
    index_dir: Path, questions: Sequence[str], *, clients: Sequence[int] = (1, 4, 16), seconds: float = 30,
    rounds: int = 5, workers: int = 1, threads: int = SERVE_THREADS, precision: str = "float32", torch_threads: int = 1,
) -> dict[str, Any]:  # fmt: skip
    """HTTP latency and throughput of `citewell serve` against the bare model cost; the model runs on
    ``torch_threads`` threads both in the server's workers and in the bare figures the overhead ratio divides by."""
    result: dict[str, Any] = bare_query(index_dir, questions, rounds, precision, torch_threads)
    result["query_precision"] = precision
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write("\n".join(questions))
    server = Server(
        index_dir, workers=workers, threads=threads, precision=precision, torch_threads=torch_threads
    )
    try:
        result["startup_s"] = server.wait_ready()
        http_load([server.url], Path(handle.name), 1, 2)  # warm up every path once
        result["http"] = {n: http_load([server.url], Path(handle.name), n, seconds) for n in clients}
        result["paired"] = paired_overhead(server.url, index_dir, questions, rounds, precision, torch_threads)
    finally:
        server.stop()
        os.unlink(handle.name)
    single = result["http"][min(clients)]
    busiest = result["http"][max(clients)]
    result["overhead_ratio"] = result["paired"]["http_p50_ms"] / result["paired"]["bare_p50_ms"]
    # the same ratio from the locust run at one client and the bare figures taken before the server started
    result["overhead_ratio_unpaired"] = single["p50_ms"] / result["bare_p50_ms"]
    result["overhead_ratio_every_core"] = single["p50_ms"] / result["bare_every_core_p50_ms"]
    result["tail_ratio"] = busiest["p99_ms"] / single["p50_ms"]
    best_per_s = max(r["per_s"] for r in result["http"].values())
    result["saturation_ratio"] = best_per_s / result["bare_encode_per_s"]
    result["saturation_ratio_batched"] = best_per_s / result["bare_batched_per_s"]
    return result


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
    texts = [embedding_input(passage, doc.title) for doc in documents for passage in chunk_document(doc)]
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


def format_query(result: dict[str, Any]) -> str:
    lines = [
        f"questions encoded at {result['query_precision']}; bare encode+search p50 {result['bare_p50_ms']:.1f} ms "
        f"(p95 {result['bare_p95_ms']:.1f}) on {result['torch_threads']:.0f} torch thread(s) as in each worker, "
        f"{result['bare_every_core_p50_ms']:.1f} ms on {result['every_core_threads']:.0f}; "
        f"bare encode-only {result['bare_encode_per_s']:.1f} questions/s on every core, one at a time, "
        f"{result['bare_batched_per_s']:.1f}/s {BATCH} at a time",
        f"in-process answer p50 {result['pipeline_p50_ms']:.1f} ms; a repeated question from the cache "
        f"{result['cache_hit_p50_us']:.1f} us",
        f"start-up (serve -> ready) {result['startup_s']:.1f} s",
        "clients  requests  failures   p50 ms   p95 ms   p99 ms   req/s",
    ]
    for clients, r in result["http"].items():
        lines.append(
            f"{clients:>7}  {r['requests']:>8.0f}  {r['failures']:>8.0f}  {r['p50_ms']:>7.0f}  {r['p95_ms']:>7.0f}"
            f"  {r['p99_ms']:>7.0f}  {r['per_s']:>6.1f}"
        )
    lines.append(
        f"overhead ratio (HTTP p50 / bare p50, one client, taken in pairs) {result['overhead_ratio']:.2f} "
        f"({result['paired']['http_p50_ms']:.1f} / {result['paired']['bare_p50_ms']:.1f} ms; from locust at 1 "
        f"client and the bare run before: {result['overhead_ratio_unpaired']:.2f}, or "
        f"{result['overhead_ratio_every_core']:.2f} against the bare p50 on every core); "
        f"tail ratio (p99 at most clients / p50 at 1) {result['tail_ratio']:.2f}; "
        f"saturation (best req/s / bare encode/s) {result['saturation_ratio']:.2f}, "
        f"{result['saturation_ratio_batched']:.2f} against encodes {BATCH} at a time"
    )
    return "\n".join(lines)


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


class ReplayEmbedder:
    """Stands in for the model at ingest (an ``ingest.embedding.Encoder``): a passage text of ``index`` gets its
    stored vector, moved by Gaussian noise and renormalised, so repeated documents are near, not identical. Any
    other text (a sentence, for sentence vectors) is encoded by the real model once, then replayed the same way."""

    def __init__(self, index: Index, noise: float, seed: int = 3) -> None:
        self.name = index.model
        self.dimension = int(index.vectors.shape[1])
        self._seeds = np.asarray(index.vectors, dtype=np.float32)
        self._rows = {
            embedding_input(passage, index.documents[passage.document].title): row
            for row, passage in enumerate(index.passages)
        }
        self._noise = noise
        self._rng = np.random.default_rng(seed)
        self._others: dict[str, Vectors] = {}
        self._real: Embedder | None = None

    def encode_batches(self, texts: Sequence[str], chunk: int = 4096) -> Iterator[Vectors]:
        for begin in range(0, len(texts), chunk):
            yield self._replayed(texts[begin : begin + chunk])

    def _replayed(self, texts: Sequence[str]) -> Vectors:
        unknown = list(dict.fromkeys(t for t in texts if t not in self._rows and t not in self._others))
        if unknown:
            self._real = self._real or Embedder(self.name)
            self._others.update(zip(unknown, self._real.encode(unknown), strict=True))
        block = np.stack([self._seeds[self._rows[t]] if t in self._rows else self._others[t] for t in texts])
        block = block + self._rng.normal(0, self._noise, block.shape).astype(np.float32)
        return np.asarray(block / np.linalg.norm(block, axis=1, keepdims=True), dtype=np.float32)


def repeated_documents(documents: Sequence[Document], copies: int) -> list[Document]:
    return [
        dataclasses.replace(doc, id=f"{doc.id}~{copy}" if copy else doc.id)
        for copy in range(copies)
        for doc in documents
    ]


def bench_answers(
    index_dir: Path, counts: Sequence[int], questions: Sequence[str], *, kind: str = "auto", noise: float = 0.02,
    work_dir: Path | None = None, precision: str = "float32", sentence_vectors: bool = False,
) -> Iterator[dict[str, Any]]:  # fmt: skip
    """For each of ``counts``: answer latency from that many passages against a one-document collection, each
    question asked of both; ``sentence_vectors`` builds both with them. One replay serves every count, so each
    distinct sentence is encoded by the model once for the whole run."""
    base = load_index(index_dir)
    replay = ReplayEmbedder(base, noise)
    for count in counts:
        yield _answers_at(base, replay, count, questions, kind, work_dir, precision, sentence_vectors)


def _answers_at(
    base: Index, replay: ReplayEmbedder, count: int, questions: Sequence[str], kind: str, work_dir: Path | None,
    precision: str, sentence_vectors: bool,
) -> dict[str, Any]:  # fmt: skip
    documents = list(base.documents.values())
    copies = max(1, -(-count // len(base.passages)))
    with tempfile.TemporaryDirectory(dir=work_dir) as folder:
        large_dir, small_dir = Path(folder) / "large", Path(folder) / "small"
        began = time.perf_counter()
        built = build_index(
            repeated_documents(documents, copies),
            large_dir,
            embedder=replay,
            vector_index=kind,
            sentence_vectors=sentence_vectors,
        )
        build_s = time.perf_counter() - began
        build_index(documents[:1], small_dir, embedder=replay, sentence_vectors=sentence_vectors)
        began = time.perf_counter()
        large = load_index(large_dir)
        load_s = time.perf_counter() - began
        small = load_index(small_dir)
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        embedder = Embedder(base.model, precision=precision)
        answerers = {
            "small": Answerer(Retriever(small, embedder)),
            "large": Answerer(Retriever(large, embedder)),
        }
        for answerer in answerers.values():
            answerer.ask(questions[0])  # warm up
        latencies: dict[str, list[float]] = {"small": [], "large": []}
        searches: dict[str, list[float]] = {"small": [], "large": []}
        for question in questions:
            vector = embedder.encode([question])[0]
            for name, answerer in answerers.items():
                began = time.perf_counter()
                answerer.retriever.search(question, AnswerSettings().min_windows, query_vector=vector)
                searches[name].append(time.perf_counter() - began)
                began = time.perf_counter()
                answerer.ask(question)
                latencies[name].append(time.perf_counter() - began)
        vector_index = str(large.manifest.get("vector_index", {}).get("kind", "flat"))
    return {
        "passages": float(built.passages),
        "documents": float(len(documents) * copies),
        "small_passages": float(small.counts()["passages"]),
        "vector_index": vector_index,
        "query_precision": precision,
        "sentence_vectors": sentence_vectors,
        "questions": float(len(questions)),
        "build_s": build_s,
        "load_s": load_s,
        "peak_rss_mb": rss_mb,
        "small_p50_ms": percentile_ms(latencies["small"], 50),
        "small_p95_ms": percentile_ms(latencies["small"], 95),
        "large_p50_ms": percentile_ms(latencies["large"], 50),
        "large_p95_ms": percentile_ms(latencies["large"], 95),
        "ratio": percentile_ms(latencies["large"], 50) / percentile_ms(latencies["small"], 50),
        # retrieval alone (the question already encoded): what the collection's size itself costs
        "small_search_p50_ms": percentile_ms(searches["small"], 50),
        "large_search_p50_ms": percentile_ms(searches["large"], 50),
    }


def format_answers(result: dict[str, Any]) -> str:
    return (
        f"{result['passages']:.0f} passages ({result['documents']:.0f} documents, {result['vector_index']}): built in "
        f"{result['build_s']:.0f} s, loaded in {result['load_s']:.1f} s, peak memory {result['peak_rss_mb']:.0f} MB\n"
        f"answer p50 {result['large_p50_ms']:.1f} ms (p95 {result['large_p95_ms']:.1f}) against "
        f"{result['small_p50_ms']:.1f} ms (p95 {result['small_p95_ms']:.1f}) from one document "
        f"({result['small_passages']:.0f} passages), {result['questions']:.0f} questions encoded at "
        f"{result['query_precision']}, {'with' if result['sentence_vectors'] else 'without'} sentence vectors: "
        f"ratio {result['ratio']:.2f}\n"
        f"of which retrieval (question already encoded) p50 {result['large_search_p50_ms']:.1f} ms against "
        f"{result['small_search_p50_ms']:.1f} ms"
    )


def bench_soak(
    corpus: Sequence[Path],
    *,
    seconds: float = 300,
    clients: int = 8,
    questions: Sequence[str],
    replicas: int = 1,
) -> dict[str, Any]:
    """A sustained run at saturation: failures, a worker's resident memory over time, and an index rebuilt and
    swapped in halfway through (a new version of the same documents). With several ``replicas`` (`citewell serve`
    processes over the one index directory) requests take turns among them, and each must swap."""
    with tempfile.TemporaryDirectory() as folder:
        index_dir = Path(folder) / "index"
        embedder = Embedder()
        ingest_paths(corpus, index_dir, embedder=embedder)
        questions_file = Path(folder) / "questions.txt"
        questions_file.write_text("\n".join(questions), encoding="utf-8")
        servers = [Server(index_dir) for _ in range(replicas)]
        try:
            for server in servers:
                server.wait_ready()
            samples: list[tuple[float, float]] = []
            result: dict[str, Any] = {"replicas": replicas}

            def run_load() -> None:
                result.update(http_load([server.url for server in servers], questions_file, clients, seconds))

            load = threading.Thread(target=run_load)
            began = time.monotonic()
            load.start()
            new_version: Path | None = None
            while load.is_alive():
                elapsed = time.monotonic() - began
                # a replica's memory: its workers', the mean over the replicas
                memory = [sum(rss_mb(pid) for pid in child_pids(s.process.pid)) for s in servers]
                samples.append((elapsed, sum(memory) / len(memory)))
                if new_version is None and elapsed > seconds / 2:
                    version = current_version(index_dir)
                    build_index(load_documents(corpus).documents, index_dir, embedder=embedder)
                    new_version = (
                        current_version(index_dir) if current_version(index_dir) != version else None
                    )
                time.sleep(min(5.0, max(seconds / 20, 0.5)))
            load.join()
            # the replicas that serve the new version now (each finds it within RELOAD_INTERVAL)
            swapped = [
                new_version is not None
                and requests.get(server.url + "/api/ready", timeout=5).json().get("version")
                == new_version.name
                for server in servers
            ]
        finally:
            for server in servers:
                server.stop()
    times, rss = np.array([t for t, _ in samples]), np.array([mb for _, mb in samples])
    half = len(rss) // 2
    result.update(
        {
            "index_swapped": all(swapped),
            "replicas_swapped": sum(swapped),
            "rss_first_mb": float(rss[0]),
            "rss_max_mb": float(rss.max()),
            "rss_last_mb": float(rss[-1]),
            # growth between the second half's start and its end: the warm-up and the swap are behind it
            "rss_slope_mb_per_min": float(np.polyfit(times[half:], rss[half:], 1)[0] * 60)
            if len(rss) - half > 2
            else 0.0,
        }
    )
    return result


def child_pids(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(child) for child in found]


def rss_mb(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    line = next((line for line in status.splitlines() if line.startswith("VmRSS:")), "VmRSS: 0 kB")
    return int(line.split()[1]) / 1024


def format_soak(result: dict[str, Any]) -> str:
    replicas = result["replicas"]
    spread = ""
    if replicas > 1:
        spread = f" ({', '.join(f'{n:.0f}' for n in result['requests_by_replica'].values())} by replica)"
    return (
        f"{result['requests']:.0f} requests in the run{spread}, {result['failures']:.0f} failed, "
        f"{result['per_s']:.1f}/s, p50 {result['p50_ms']:.0f} ms, p99 {result['p99_ms']:.0f} ms; index swapped "
        f"mid-run: {result['index_swapped']} ({result['replicas_swapped']} of {replicas} replicas serve the new "
        f"version); {'a replica' if replicas > 1 else 'worker'} memory {result['rss_first_mb']:.0f} MB at start, "
        f"{result['rss_max_mb']:.0f} MB max, {result['rss_last_mb']:.0f} MB at the end, "
        f"trend over the second half {result['rss_slope_mb_per_min']:+.1f} MB/min"
    )
