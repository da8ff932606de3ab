"""``citewell bench soak``: a sustained run at saturation with the index rebuilt and swapped in halfway: failed
requests and the worker's resident memory over time; with several replicas over one index, requests take turns."""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import requests

from ingest import (
    Embedder,
    build_index,
    ingest_paths,
    load_documents,
)
from ingest.index import current_version
from service.measurement.benchmarks.harness import (
    BARE_SETTINGS,
    Server,
    child_pids,
    http_load,
    rss_mb,
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
        servers = [Server(index_dir, settings=BARE_SETTINGS) for _ in range(replicas)]
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
