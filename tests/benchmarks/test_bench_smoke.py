"""A tiny run of each benchmark, so they do not rot; the real runs are the documented commands (README)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from ..conftest import CORPUS, SHARED
from ..service.conftest import CITEWELL

pytestmark = pytest.mark.slow


def citewell(*args: str) -> str:
    result = subprocess.run(
        [str(CITEWELL), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_query_benchmark_prints_latency_throughput_and_ratios(corpus_index_dir: Path) -> None:
    output = citewell(
        "bench", "query", "--index", str(corpus_index_dir), "--clients", "1,2", "--seconds", "2"
    )
    assert "overhead ratio" in output and "saturation" in output
    result = json.loads(output.strip().splitlines()[-1])
    assert result["bare_p50_ms"] > 0 and result["startup_s"] > 0
    assert result["torch_threads"] == 1 and result["bare_every_core_p50_ms"] > 0
    assert result["paired"]["http_p50_ms"] > 0 and result["paired"]["bare_p50_ms"] > 0
    assert result["overhead_ratio"] == result["paired"]["http_p50_ms"] / result["paired"]["bare_p50_ms"]
    assert result["bare_batched_per_s"] > 0 and result["saturation_ratio_batched"] > 0
    for clients in ("1", "2"):
        assert result["http"][clients]["requests"] > 0
        assert result["http"][clients]["failures"] == 0


def test_ingest_benchmark_compares_with_bare_encoding() -> None:
    output = citewell("bench", "ingest", str(CORPUS), "--sentence-vectors")
    assert "passages/s vs bare encode" in output and "peak memory" in output
    assert "with sentence vectors (" in output and "x the time of the build without" in output


def test_ingest_benchmark_on_ray_compares_one_and_two_actors_with_the_single_process_build() -> None:
    output = citewell("bench", "ingest", str(CORPUS), "--ray")
    for actors in (1, 2):
        assert re.search(rf"on Ray, {actors} actor\(s\) of \d+ CPU threads each: [\d.]+ passages/s", output)
    assert output.count("ratio to the single-process build") == 2


def test_scale_benchmark_measures_recall_latency_and_size(corpus_index_dir: Path) -> None:
    output = citewell(
        "bench", "scale", "--index", str(corpus_index_dir), "--counts", "3000", "--vector-index", "ivf-sq8"
    )
    [result] = json.loads(output.strip().splitlines()[-1])
    assert result["kind"] == "ivf-sq8"
    assert 0.5 < result["recall_at_10"] <= 1.0
    assert 300 < result["bytes_per_vector"] < 1200  # 8-bit codes: about a quarter of 4 x 384 bytes


def test_soak_benchmark_swaps_the_index_under_two_replicas_without_failures() -> None:
    """Two `citewell serve` over one index directory, asked in turn; the index rebuilt halfway is what both serve
    when the load ends, and no request failed."""
    output = citewell("bench", "soak", str(CORPUS), "--seconds", "16", "--replicas", "2")
    assert "by replica" in output and "2 of 2 replicas serve the new version" in output
    result = json.loads(output.strip().splitlines()[-1])
    assert result["failures"] == 0
    assert result["index_swapped"] is True and result["replicas_swapped"] == 2
    assert len(result["requests_by_replica"]) == 2 and all(
        n > 0 for n in result["requests_by_replica"].values()
    )
    assert sum(result["requests_by_replica"].values()) == result["requests"]
    assert result["rss_max_mb"] > 0


@pytest.mark.parametrize("sentence_vectors", [False, True])
def test_answers_benchmark_compares_a_large_collection_with_one_document(
    corpus_index_dir: Path, sentence_vectors: bool
) -> None:
    options = ["--sentence-vectors"] if sentence_vectors else []
    output = citewell("bench", "answers", "--index", str(corpus_index_dir), "--counts", "300,600", *options)
    assert "ratio" in output and "retrieval" in output
    first, result = (json.loads(line) for line in output.strip().splitlines() if line.startswith("{"))
    assert first["passages"] < result["passages"]
    assert result["sentence_vectors"] is sentence_vectors
    assert result["passages"] >= 600 and result["small_passages"] < result["passages"]
    assert result["large_p50_ms"] > 0 and result["small_search_p50_ms"] > 0


def test_crawl_benchmark_compares_crawling_with_reading_from_disk() -> None:
    pages = SHARED / "corpora" / "postgresql-15"
    if not pages.exists():
        pytest.skip(f"the PostgreSQL documentation is not at {SHARED}")
    output = citewell("bench", "crawl", str(pages), "--pages", "4")
    assert "crawl time ratio" in output and "re-crawl with nothing changed" in output
    result = json.loads(output.strip().splitlines()[-1])
    assert result["documents_crawled"] == result["documents_from_disk"] > 0
    assert result["crawl_time_ratio"] > 0 and result["recrawl_embedded_passages"] == 0


def test_slow_clients_benchmark_compares_a_client_alone_and_beside_slow_connections(
    corpus_index_dir: Path,
) -> None:
    output = citewell(
        "bench", "slow-clients", "--index", str(corpus_index_dir), "--slow", "9", "--requests", "10"
    )
    assert "p99 ratio" in output
    result = json.loads(output.strip().splitlines()[-1])
    assert result["slow_connections"] == 9
    for phase in ("unloaded", "with_slow"):
        assert result[phase]["requests"] == 10 and result[phase]["failures"] == 0
    assert result["p99_ratio"] > 0
