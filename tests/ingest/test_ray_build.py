"""Ingest on a real Ray cluster (local, 2 CPUs, loopback only): the same index as a single-process build, an
actor lost mid-build retried, a failed build leaving the previous index live; and no Ray without --ray."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

# Before Ray is imported (it reads this once): the cluster then binds 127.0.0.1, not the machine's address.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

import ray

from ingest import Embedder, IngestError, build_index, ingest_paths, load_documents, load_index
from ingest.cluster import RayWorkers
from ingest.embedding import Vectors
from ingest.index import CURRENT, SENTENCE_VECTORS, VECTORS, current_version, read_manifest
from service.answering import Answerer
from service.cli import main

from ..conftest import CORPUS, REPO, SHARED

pytestmark = pytest.mark.slow

SCIFACT = SHARED / "datasets" / "scifact" / "corpus.jsonl"
# The issue asks for 1,000 abstracts (3,979 passages): at about 34 passages/s on 2 cores that is two minutes a
# build, and this file makes three. 100 abstracts (394 passages) keep it to a few minutes; the 1,000 were
# compared once by hand, with this file's SCIFACT_ABSTRACTS at 1000.
SCIFACT_ABSTRACTS = 100


@pytest.fixture(scope="module")
def workers() -> Iterator[RayWorkers]:
    """One local Ray cluster for the module, small, and two embedding actors on its two CPUs."""
    ray.init(
        num_cpus=2, include_dashboard=False, object_store_memory=200_000_000, logging_level=logging.WARNING
    )
    try:
        with RayWorkers(actors=2) as pool:
            yield pool
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def scifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first SCIFACT_ABSTRACTS abstracts of SciFact, as a JSONL file of their own."""
    if not SCIFACT.exists():
        pytest.skip(f"SciFact is not at {SCIFACT}")
    subset = tmp_path_factory.mktemp("scifact") / "scifact.jsonl"
    with SCIFACT.open(encoding="utf-8") as lines:
        subset.write_text("".join(next(lines) for _ in range(SCIFACT_ABSTRACTS)), encoding="utf-8")
    return subset


@pytest.fixture(scope="module")
def scifact_index_dir(tmp_path_factory: pytest.TempPathFactory, scifact: Path, embedder: Embedder) -> Path:
    """The SciFact subset built in this process, the reference for the builds on Ray."""
    index_dir = tmp_path_factory.mktemp("scifact-single") / "index"
    ingest_paths([scifact], index_dir, embedder=embedder)
    return index_dir


def assert_same_index(built: Path, reference: Path, embedder: Embedder, questions: Sequence[str]) -> None:
    """The same documents, passages, manifest and files; vectors within 1e-5; the same answers."""
    ours, theirs = load_index(built), load_index(reference)
    assert ours.documents == theirs.documents
    assert ours.passages == theirs.passages
    difference = np.abs(np.load(ours.version_dir / VECTORS) - np.load(theirs.version_dir / VECTORS))
    assert difference.max() <= 1e-5
    if theirs.sentence_vectors is not None:
        assert ours.sentence_vectors is not None
        # stored as float16: a difference of 1e-7 before rounding can land one step (about 1e-4 here) apart
        assert np.abs(ours.sentence_vectors.astype(np.float32) - theirs.sentence_vectors).max() <= 1e-3
        assert np.array_equal(ours.first_sentence, theirs.first_sentence)  # type: ignore[arg-type]
    manifests = [replace(read_manifest(index.version_dir), built_at="") for index in (ours, theirs)]
    assert manifests[0] == manifests[1]  # every file's size, every document's rows, the model, the recipe
    answerers = [Answerer.open(folder, embedder=embedder) for folder in (built, reference)]
    for question in questions:
        ours_answer, theirs_answer = (answerer.ask(question) for answerer in answerers)
        assert ours_answer.answered == theirs_answer.answered and ours_answer.answer == theirs_answer.answer
        assert [p.source for p in ours_answer.passages] == [p.source for p in theirs_answer.passages]
        assert [p.score for p in ours_answer.passages] == pytest.approx(
            [p.score for p in theirs_answer.passages], abs=1e-4
        )


def corpus_questions() -> list[str]:
    lines = (REPO / "tests" / "data" / "corpus-questions.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines[:5]]


def scifact_questions(scifact: Path) -> list[str]:
    """The titles of a few abstracts of the subset, as questions it can answer."""
    return [document.title for document in load_documents([scifact]).documents[::20]][:5]


def test_the_corpus_built_on_ray_is_the_single_process_build_and_reuses_unchanged_documents(
    workers: RayWorkers, tmp_path: Path, embedder: Embedder
) -> None:
    reference, built = tmp_path / "single", tmp_path / "ray"
    ingest_paths([CORPUS], reference, embedder=embedder, sentence_vectors=True)
    report = ingest_paths([CORPUS], built, embedder=workers, executor=workers, sentence_vectors=True)
    assert (report.documents, report.passages, report.embedded_passages) == (1, 14, 14)
    assert (built / current_version(built).name / SENTENCE_VECTORS).exists()  # type: ignore[union-attr]
    assert_same_index(built, reference, embedder, corpus_questions())

    again = ingest_paths([CORPUS], built, embedder=workers, executor=workers)
    assert (again.reused_documents, again.embedded_passages, again.sentence_vectors) == (1, 0, True)
    assert_same_index(built, reference, embedder, corpus_questions()[:1])


def test_scifact_abstracts_built_on_ray_are_the_single_process_build(
    workers: RayWorkers, scifact: Path, scifact_index_dir: Path, tmp_path: Path, embedder: Embedder
) -> None:
    built = tmp_path / "index"
    report = ingest_paths([scifact], built, embedder=workers, executor=workers)
    assert report.documents == SCIFACT_ABSTRACTS and report.passages > 3 * SCIFACT_ABSTRACTS
    assert_same_index(built, scifact_index_dir, embedder, scifact_questions(scifact))


def kill_first_actor_after_first_batch(workers: RayWorkers, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first actor is killed as the first vectors arrive: it holds the next call (queued or running)."""
    encode_batches = workers.encode_batches

    def killing(texts: Sequence[str]) -> Iterator[Vectors]:
        for number, batch in enumerate(encode_batches(texts)):
            yield batch
            if number == 0:
                ray.kill(workers.pool[0], no_restart=False)  # a crash: Ray may restart it

    monkeypatch.setattr(workers, "encode_batches", killing)


def test_an_actor_killed_mid_build_is_restarted_and_the_build_is_the_same(
    workers: RayWorkers,
    scifact: Path,
    scifact_index_dir: Path,
    tmp_path: Path,
    embedder: Embedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(workers, "texts_per_call", 64)  # calls of a second or two: the kill lands in one
    before = ray.get([actor.pid.remote() for actor in workers.start()])
    kill_first_actor_after_first_batch(workers, monkeypatch)
    built = tmp_path / "index"
    ingest_paths([scifact], built, embedder=workers, executor=workers)
    after = ray.get([actor.pid.remote() for actor in workers.pool])
    assert after[0] != before[0] and after[1] == before[1]  # the first was restarted, in a new process
    assert_same_index(built, scifact_index_dir, embedder, scifact_questions(scifact)[:2])


def test_a_build_whose_actor_dies_for_good_leaves_the_previous_index_live(
    workers: RayWorkers,
    corpus_index_dir: Path,
    scifact: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import shutil

    index_dir = tmp_path / "index"
    shutil.copytree(corpus_index_dir, index_dir)
    live = (index_dir / CURRENT).read_text()
    workers.stop()  # their CPUs, for actors that are never restarted
    with RayWorkers(actors=2, restarts=0, texts_per_call=2) as fragile:
        kill_first_actor_after_first_batch(fragile, monkeypatch)
        with pytest.raises(IngestError, match="embedding on the Ray cluster failed"):
            documents = load_documents([scifact]).documents[:10]
            build_index(documents, index_dir, embedder=fragile, executor=fragile)
    assert (index_dir / CURRENT).read_text() == live
    assert [p.name for p in index_dir.glob("v-*")] == [live.strip()]  # the failed version is gone
    assert load_index(index_dir).counts() == {"documents": 1, "passages": 14}


def test_the_cli_builds_on_the_cluster_it_is_given(
    workers: RayWorkers, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workers.stop()
    assert main(["ingest", str(CORPUS), "--index", str(tmp_path / "index"), "--ray"]) == 0
    assert "indexed 1 documents, 14 passages" in capsys.readouterr().out
    assert (tmp_path / "index" / CURRENT).exists() and ray.is_initialized()  # joined, not shut down


def test_ray_without_the_cluster_extra_is_one_line_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed: importing it fails
    monkeypatch.delitem(sys.modules, "ingest.cluster")
    assert main(["ingest", str(CORPUS), "--index", str(tmp_path / "index"), "--ray", "auto"]) == 1
    error = capsys.readouterr().err
    assert error == "citewell: --ray needs Ray, in the cluster extra: pip install 'citewell[cluster]'\n"
    assert not (tmp_path / "index").exists()


def test_a_path_for_an_address_or_an_address_nobody_answers_at_is_refused_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main(["ingest", "--ray", str(CORPUS)])
    assert "is not a Ray address" in capsys.readouterr().err
    # in a process of its own: this one is connected to the module's cluster, and would stay on it
    result = citewell_subprocess(
        "ingest", str(CORPUS), "--index", str(tmp_path / "index"), "--ray", "127.0.0.1:1"
    )
    assert result.returncode == 1
    assert (
        result.stderr.splitlines()[-1]
        == "citewell: cannot reach the Ray cluster at '127.0.0.1:1': Connection refused"
    )


def citewell_subprocess(*args: str, script: str | None = None) -> subprocess.CompletedProcess[str]:
    command = ["-c", script] if script else ["-m", "service.cli", *args]
    return subprocess.run(
        [sys.executable, *command],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_build_without_ray_never_imports_it(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from service.cli import main\n"
        f"code = main(['ingest', {str(CORPUS)!r}, '--index', {str(tmp_path / 'index')!r}])\n"
        "print(sorted(name for name in sys.modules if name.partition('.')[0] == 'ray'))\n"
        "sys.exit(code)\n"
    )
    result = citewell_subprocess(script=script)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]"
    assert (tmp_path / "index" / CURRENT).exists()
