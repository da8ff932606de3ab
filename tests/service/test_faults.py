"""Faults while serving: a broken, foreign or vanished index, a killed worker, SIGTERM with requests in flight,
and a disk that fills up during ingest. The service keeps answering correctly, or says clearly why not."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from ingest import load_index
from ingest.index import MANIFEST, current_version, switch_current

from .conftest import CITEWELL, ServerProcess

QUESTION = "When was election infrastructure designated critical infrastructure?"

pytestmark = pytest.mark.slow


@pytest.fixture
def index_copy(tmp_path: Path, corpus_index_dir: Path) -> Path:
    target = tmp_path / "index"
    shutil.copytree(corpus_index_dir, target)
    return target


@pytest.fixture
def own_server(index_copy: Path, tmp_path: Path) -> Iterator[ServerProcess]:
    with ServerProcess(index_copy, tmp_path / "server.log", {"RATE_LIMIT": ""}) as server:
        yield server


def wait_for_log(server: ServerProcess, text: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while text not in server.log():
        assert time.monotonic() < deadline, f"no log line with {text!r}:\n{server.log()[-2000:]}"
        time.sleep(0.2)


def still_answers(server: ServerProcess) -> None:
    response = server.ask(QUESTION)
    assert response.status_code == 200
    assert "January 6, 2017" in response.json()["answer"]
    assert requests.get(server.url + "/api/ready", timeout=5).status_code == 200


def test_broken_foreign_or_vanished_index_is_logged_and_the_loaded_one_keeps_serving(
    own_server: ServerProcess, index_copy: Path
) -> None:
    live = current_version(index_copy)
    assert live is not None

    truncated = index_copy / "v-29990101T000000-broken"
    shutil.copytree(live, truncated)
    faiss_file = truncated / "passages.faiss"
    faiss_file.write_bytes(faiss_file.read_bytes()[:100])
    switch_current(index_copy, truncated)
    wait_for_log(own_server, f"{truncated} is damaged")
    still_answers(own_server)

    foreign = index_copy / "v-29990101T000001-foreign"
    shutil.copytree(live, foreign)
    manifest = json.loads((foreign / MANIFEST).read_text())
    manifest["model"] = "someone/else-model"
    (foreign / MANIFEST).write_text(json.dumps(manifest))
    switch_current(index_copy, foreign)
    wait_for_log(own_server, "was built with model 'someone/else-model'")
    still_answers(own_server)

    shutil.rmtree(index_copy)
    wait_for_log(own_server, f"no index at {index_copy}")
    still_answers(own_server)
    assert own_server.process.poll() is None


def test_sigterm_lets_requests_in_flight_finish(own_server: ServerProcess) -> None:
    with ThreadPoolExecutor(4) as pool:
        in_flight = [pool.submit(own_server.ask, QUESTION, top_k=20) for _ in range(4)]
        time.sleep(0.1)
        own_server.process.send_signal(signal.SIGTERM)
        statuses = [future.result().status_code for future in in_flight]
    assert statuses == [200, 200, 200, 200]
    assert own_server.process.wait(30) == 0


def test_a_killed_worker_is_replaced_and_only_its_requests_in_flight_fail(
    index_copy: Path, tmp_path: Path
) -> None:
    server = ServerProcess(index_copy, tmp_path / "server.log", {"RATE_LIMIT": ""}, workers=2)
    try:
        server.wait_until("/api/ready")
        outcomes: list[str] = []
        stop = threading.Event()

        def keep_asking() -> None:
            while not stop.is_set():
                try:
                    outcomes.append(str(server.ask(QUESTION).status_code))
                except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
                    # refused, reset, or cut off after the headers: the killed worker had sent them
                    outcomes.append("dropped")

        askers = [threading.Thread(target=keep_asking) for _ in range(4)]
        for asker in askers:
            asker.start()
        time.sleep(2)
        workers = children(server.process.pid)
        assert len(workers) == 2
        os.kill(workers[0], signal.SIGKILL)
        deadline = time.monotonic() + 90
        while len(set(children(server.process.pid)) - {workers[0]}) < 2:
            assert time.monotonic() < deadline, server.log()[-2000:]
            time.sleep(0.5)
        settled = len(outcomes)
        time.sleep(4)  # the replacement takes its share of the requests
        stop.set()
        for asker in askers:
            asker.join()
        assert outcomes.count("dropped") <= 4  # at most the killed worker's threads' requests in flight
        assert set(outcomes) <= {"200", "dropped"}
        assert set(outcomes[settled + 4 :]) == {"200"}
    finally:
        server.stop()


def children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(child) for child in found]


def test_a_full_disk_during_ingest_leaves_the_previous_index_live(index_copy: Path, tmp_path: Path) -> None:
    before = current_version(index_copy)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    paragraphs = "\n\n".join(
        f"Paragraph {n} describes county {n}, where ballots are counted by hand in public."
        for n in range(400)
    )
    (corpus / "counties.txt").write_text(paragraphs)

    def small_disk() -> None:
        # every file this process writes may grow to 64 KiB only: writing more fails as on a full disk
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    result = subprocess.run(
        [str(CITEWELL), "ingest", str(corpus), "--index", str(index_copy)],
        capture_output=True,
        text=True,
        preexec_fn=small_disk,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        timeout=600,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "could not write the new index" in result.stderr
    assert "File too large" in result.stderr
    assert "Traceback" not in result.stderr
    assert current_version(index_copy) == before
    assert sorted(p.name for p in index_copy.iterdir() if p.name.startswith("v-")) == [before.name]  # type: ignore[union-attr]
    assert load_index(index_copy).counts()["documents"] == 1
