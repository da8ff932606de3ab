"""What the benchmarks share: a `citewell serve` to measure, HTTP load against it, percentiles and memory."""

from __future__ import annotations

import csv
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import requests
import torch

from service.config import SERVE_THREADS

LOCUSTFILE = Path(__file__).with_name("locustfile.py")


CITEWELL = Path(sys.executable).with_name("citewell")


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
