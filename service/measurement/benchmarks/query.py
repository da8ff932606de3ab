"""``citewell bench query``: /api/ask over HTTP (locust, closed loop of 1, 4, 16 clients) against the bare
pipeline (``model.encode`` + FAISS search), taken in pairs for the overhead ratio, and bare encode-only throughput."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import requests
import torch

from ingest import (
    Embedder,
    load_index,
)
from service.config import SERVE_THREADS
from service.live import LiveAnswerer
from service.measurement.benchmarks.harness import (
    BARE_SETTINGS,
    Server,
    http_load,
    on_torch_threads,
    percentile_ms,
)

# questions per model call in the bare batched figure: the most clients `bench query` runs by default
BATCH = 16


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
    settings = {**BARE_SETTINGS, "QUERY_PRECISION": precision, "TORCH_THREADS": str(torch_threads)}
    server = Server(index_dir, settings=settings, workers=workers, threads=threads)
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
