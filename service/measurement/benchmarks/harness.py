"""What the benchmarks share: a `citewell serve` to measure, HTTP load against it, percentiles and memory."""

from __future__ import annotations

import csv
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

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


class Served:
    """A process that serves citewell's HTTP API on ``port`` of the loopback: waited for, asked and stopped. With
    ``own_group`` it runs as a process group of its own (``make run``: make, gunicorn and its workers), all of
    which ``stop`` stops."""

    def __init__(
        self,
        command: Sequence[str],
        port: int,
        *,
        env: Mapping[str, str],
        log_path: Path | None = None,
        cwd: Path | None = None,
        own_group: bool = False,
        ready_timeout: float = 180,
    ) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self.ready_timeout = ready_timeout
        self._own_group = own_group
        self._log = log_path.open("wb") if log_path is not None else None
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=dict(env),
            stdout=self._log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=own_group,
        )

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path else ""

    def wait_until(self, path: str, status: int = 200, timeout: float = 180) -> requests.Response:
        """The first response of ``path`` with ``status``; an error (with the log) if the server exits first or
        the time runs out."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"citewell serve exited with {self.process.returncode}:\n{self.log()}")
            try:
                response = requests.get(self.url + path, timeout=5)
                if response.status_code == status:
                    return response
            except (requests.ConnectionError, requests.Timeout):
                pass  # not listening yet, or a worker still loading the index
            if time.monotonic() > deadline:
                raise RuntimeError(f"{path} never answered {status}:\n{self.log()}")
            time.sleep(0.05)

    def wait_ready(self, timeout: float | None = None) -> float:
        """Seconds from start to the first 200 of /api/ready (within ``ready_timeout`` unless told)."""
        self.wait_until("/api/ready", timeout=self.ready_timeout if timeout is None else timeout)
        return time.perf_counter() - self.started

    def ask(self, question: str, **fields: Any) -> requests.Response:
        headers = fields.pop("headers", None)
        return requests.post(
            self.url + "/api/ask",
            json={"question": question, **fields},
            headers=headers if isinstance(headers, dict) else None,
            timeout=30,
        )

    def __enter__(self) -> Self:
        """The server once it is ready; it stops when the ``with`` block ends."""
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM, then the exit code once it has drained (killed past ``timeout``)."""
        if self.process.poll() is None:
            self._signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        finally:
            if self.process.poll() is None:
                self._signal(signal.SIGKILL)
                self.process.wait()
            if self._log is not None:
                self._log.close()

    def _signal(self, number: int) -> None:
        if self._own_group:
            os.killpg(self.process.pid, number)
        else:
            self.process.send_signal(number)


class Server(Served):
    """`citewell serve` in a subprocess on a free loopback port, with ``settings`` as CITEWELL_* variables: the one
    harness of the HTTP benchmarks and of the tests that need a real server. Its output goes to ``log_path`` (or
    nowhere)."""

    def __init__(
        self,
        index_dir: Path,
        log_path: Path | None = None,
        settings: Mapping[str, str] | None = None,
        *,
        workers: int = 1,
        threads: int = SERVE_THREADS,
    ) -> None:
        port = free_port()
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        env.update({f"CITEWELL_{name}": value for name, value in (settings or {}).items()})
        self.index_dir = index_dir
        super().__init__(
            [
                *(str(CITEWELL), "serve", "--index", str(index_dir), "--port", str(port)),
                *("--workers", str(workers), "--threads", str(threads)),
            ],
            port,
            env=env,
            log_path=log_path,
        )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# What the benchmarks measure: no rate limit, no question log and no answer cache, so every request pays the whole
# pipeline.
BARE_SETTINGS = {"RATE_LIMIT": "", "QUESTION_LOG": "off", "ANSWER_CACHE_SIZE": "0"}


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
