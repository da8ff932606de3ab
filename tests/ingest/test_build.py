from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ingest import (
    ChunkingConfig,
    Embedder,
    IncompatibleIndex,
    Index,
    IndexNotFound,
    IngestError,
    build,
    build_index,
    ingest_paths,
    load_documents,
    load_index,
)
from ingest.index import CURRENT, MANIFEST, VECTORS, current_version

from ..conftest import CORPUS, REPO


def ask(index: Index, embedder: Embedder, question: str) -> str:
    [hits] = index.search(embedder.encode([question]), 1)
    return index.passages[hits[0].passage].text


def test_corpus_index_answers_with_verbatim_passages(corpus_index: Index, embedder: Embedder) -> None:
    assert corpus_index.counts() == {"documents": 1, "passages": 14}
    assert corpus_index.passages_of([0]).tolist() == list(range(14))
    document = corpus_index.documents["securing-elections"]
    for passage in corpus_index.passages:
        assert document.text[passage.start : passage.end] == passage.text
    answer = ask(
        corpus_index, embedder, "When was election infrastructure designated critical infrastructure?"
    )
    assert "January 6, 2017" in answer
    manifest = corpus_index.manifest
    assert manifest.model == "sentence-transformers/all-MiniLM-L6-v2" and manifest.dimension == 384
    assert manifest.documents["securing-elections"]["hash"] == document.content_hash
    assert manifest.counts == {"documents": 1, "passages": 14} and manifest.built_at


def write_corpus(folder: Path, docs: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.txt"):
        old.unlink()
    for name, text in docs.items():
        (folder / f"{name}.txt").write_text(text, encoding="utf-8")


def test_reingest_reuses_unchanged_and_replaces_exactly_the_changed(
    tmp_path: Path, embedder: Embedder
) -> None:
    corpus, index_dir = tmp_path / "docs", tmp_path / "index"
    docs = {
        "alpha": "Alpha voting starts in May. Alpha counting is by hand.",
        "beta": "Beta ballots are mailed. Beta results arrive in June.",
        "gamma": "Gamma uses paper ballots only.",
    }
    write_corpus(corpus, docs)
    first = ingest_paths([corpus], index_dir, embedder=embedder)
    assert (first.embedded_passages, first.reused_documents) == (first.passages, 0)
    before = load_index(index_dir)
    alpha_vectors = np.load(before.version_dir / VECTORS)[:1].copy()

    docs["beta"] = "Beta now votes online. Nothing else changed."
    del docs["gamma"]
    docs["delta"] = "Delta is a new document about audits."
    write_corpus(corpus, docs)
    second = ingest_paths([corpus], index_dir, embedder=embedder)
    assert second.reused_documents == 1  # alpha
    assert second.embedded_passages == 2  # beta's one passage and delta's one passage
    assert second.removed_documents == ["gamma"]

    after = load_index(index_dir)
    assert sorted(after.documents) == ["alpha", "beta", "delta"]
    assert [p.text for p in after.passages if p.document == "beta"] == [docs["beta"]]
    np.testing.assert_array_equal(np.load(after.version_dir / VECTORS)[:1], alpha_vectors)
    assert ask(after, embedder, "Does beta vote online?") == docs["beta"]
    for row, document in enumerate(after.document_ids):
        expected = [n for n, passage in enumerate(after.passages) if passage.document == document]
        assert sorted(after.passages_of([row]).tolist()) == expected
    assert after.passages_of([]).size == 0
    # the previous version stays for readers that still have it open; older ones are removed
    third = ingest_paths([corpus], index_dir, embedder=embedder)
    assert third.embedded_passages == 0
    versions = sorted(p.name for p in index_dir.iterdir() if p.name.startswith("v-"))
    assert versions == sorted([second.version_dir.name, third.version_dir.name])


def test_sentence_vectors_hold_every_sentence_once_and_are_reused(
    tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus, index_dir = tmp_path / "docs", tmp_path / "index"
    docs = {
        "alpha": "Alpha voting starts in spring. Alpha counting is by hand. Alpha audits follow in June. "
        "Alpha results are final in July.",
        "beta": "Beta ballots are mailed. Beta results arrive in June.",
    }
    write_corpus(corpus, docs)
    encoded: list[str] = []
    encode = embedder.encode

    def counting_encode(texts: list[str], **options: bool) -> np.ndarray:
        encoded.extend(texts)
        return encode(texts, **options)

    monkeypatch.setattr(embedder, "encode", counting_encode)
    ingest_paths([corpus], index_dir, embedder=embedder, sentence_vectors=True)
    index = load_index(index_dir)
    assert index.manifest.sentence_vectors and index.sentence_vectors is not None
    assert index.first_sentence is not None
    # alpha's four sentences sit in two overlapping windows, but each is embedded and stored once
    sentences = {(p.document, span) for p in index.passages for span in p.sentences}
    assert len(index.passages) == 3 and len(sentences) == 6 == len(index.sentence_vectors)
    assert sum(text in docs["alpha"] and text.count(".") == 1 for text in encoded) == 4
    for row, passage in enumerate(index.passages):
        text = index.documents[passage.document].text
        for number, (start, end) in enumerate(passage.sentences):
            stored = np.asarray(index.sentence_vectors[index.first_sentence[row] + number], dtype=np.float32)
            np.testing.assert_allclose(stored, encode([text[start:end]])[0], atol=2e-3)
    alpha_rows = np.asarray(index.sentence_vectors[:4]).copy()

    docs["beta"] = "Beta now votes online. Nothing else changed."
    write_corpus(corpus, docs)
    encoded.clear()
    ingest_paths([corpus], index_dir, embedder=embedder, sentence_vectors=True)
    after = load_index(index_dir)
    assert after.sentence_vectors is not None
    # only beta is embedded again: its passage (with its title) and its two sentences
    assert len(encoded) == 3 and not any("Alpha" in text for text in encoded)
    assert {"Beta now votes online.", "Nothing else changed."} < set(encoded)
    np.testing.assert_array_equal(np.asarray(after.sentence_vectors[:4]), alpha_rows)
    # updating the index without saying keeps them; saying no drops them
    assert ingest_paths([corpus], index_dir, embedder=embedder).sentence_vectors
    assert load_index(index_dir).sentence_vectors is not None
    assert not ingest_paths([corpus], index_dir, embedder=embedder, sentence_vectors=False).sentence_vectors
    assert load_index(index_dir).sentence_vectors is None
    ingest_paths([corpus], index_dir, embedder=embedder)
    assert load_index(index_dir).sentence_vectors is None


def test_a_collection_of_sentence_vectors_from_passages_or_more_gets_them_unless_told_no(
    tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the real threshold, 100,000 passages, scaled down
    monkeypatch.setattr(build, "SENTENCE_VECTORS_FROM", 3)
    corpus = tmp_path / "docs"
    docs = {"alpha": "Alpha voting starts in spring. Alpha counting is by hand."}
    write_corpus(corpus, docs)
    small = ingest_paths([corpus], tmp_path / "small", embedder=embedder)
    assert small.passages < 3 and not small.sentence_vectors
    docs["beta"] = "Beta ballots are mailed. Beta results arrive in June."
    docs["gamma"] = "Gamma counts by machine. Gamma audits by hand."
    write_corpus(corpus, docs)
    large = ingest_paths([corpus], tmp_path / "large", embedder=embedder)
    assert large.passages >= 3 and large.sentence_vectors
    assert load_index(tmp_path / "large").sentence_vectors is not None
    told_no = ingest_paths([corpus], tmp_path / "told-no", embedder=embedder, sentence_vectors=False)
    assert not told_no.sentence_vectors and load_index(tmp_path / "told-no").sentence_vectors is None


def test_changed_chunking_reembeds_everything(tmp_path: Path, embedder: Embedder) -> None:
    documents = load_documents([CORPUS]).documents
    build_index(documents, tmp_path / "i", embedder=embedder)
    report = build_index(
        documents, tmp_path / "i", embedder=embedder, chunking=ChunkingConfig(max_sentences=2)
    )
    assert report.reused_documents == 0 and report.embedded_passages == report.passages


def test_nothing_usable_is_an_error_naming_every_problem(tmp_path: Path, embedder: Embedder) -> None:
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(IngestError, match=r"empty\.txt: empty file"):
        ingest_paths([tmp_path], tmp_path / "index", embedder=embedder)
    assert not (tmp_path / "index").exists()


def test_loading_refuses_missing_other_model_other_format_and_damage(
    corpus_index_dir: Path, tmp_path: Path
) -> None:
    with pytest.raises(IndexNotFound, match="citewell ingest"):
        load_index(tmp_path / "nowhere")
    with pytest.raises(IncompatibleIndex, match=r"built with model .sentence-transformers/all-MiniLM-L6-v2."):
        load_index(corpus_index_dir, model="some/other-model")

    def damaged_copy(name: str) -> Path:
        import shutil

        target = tmp_path / name
        shutil.copytree(corpus_index_dir, target)
        return target

    other_format = damaged_copy("format")
    manifest_path = current_version(other_format) / MANIFEST  # type: ignore[operator]
    manifest = json.loads(manifest_path.read_text())
    manifest["format_version"] = 999
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IncompatibleIndex, match="format version 999"):
        load_index(other_format)

    truncated = damaged_copy("truncated")
    vectors = current_version(truncated) / "passages.faiss"  # type: ignore[operator]
    vectors.write_bytes(vectors.read_bytes()[:100])
    with pytest.raises(IncompatibleIndex, match="damaged"):
        load_index(truncated)

    garbage = damaged_copy("garbage")
    (current_version(garbage) / MANIFEST).write_text("{not json")  # type: ignore[operator]
    with pytest.raises(IncompatibleIndex, match="damaged"):
        load_index(garbage)


def test_a_damaged_current_falls_back_to_the_newest_complete_version(
    tmp_path: Path, embedder: Embedder, caplog: pytest.LogCaptureFixture
) -> None:
    """A worker that restarts with CURRENT damaged serves the good index on disk instead of failing every
    request; a folder left by a crashed build (no manifest) is never chosen."""
    index_dir = tmp_path / "index"
    documents = load_documents([CORPUS]).documents
    first = build_index(documents, index_dir, embedder=embedder).version_dir
    extra = tmp_path / "extra.txt"
    extra.write_text("Harbour notes\n\nThe harbour ferry leaves the north pier every forty minutes.\n")
    second = build_index(
        [*documents, *load_documents([extra]).documents], index_dir, embedder=embedder
    ).version_dir
    assert first != second and first.exists()
    (index_dir / "v-99999999T999999-crashed").mkdir()  # newer by name, but incomplete
    for damage in ("v-\x00\x01garbage", "v-20990101T000000-gone", "/etc/passwd"):
        (index_dir / CURRENT).write_text(damage)
        assert current_version(index_dir) == second
        assert load_index(index_dir).counts()["documents"] == 2
    assert "is damaged" in caplog.text and second.name in caplog.text
    # loading maps no passage vectors (only builds and benchmarks read them): a vectors.npy truncated under a
    # serving worker cannot fault it
    assert "vectors" not in vars(load_index(index_dir))


def test_refuses_to_build_into_a_foreign_folder(tmp_path: Path, embedder: Embedder) -> None:
    (tmp_path / "precious.txt").write_text("do not delete me")
    with pytest.raises(IngestError, match="not a citewell index directory"):
        build_index(load_documents([CORPUS]).documents, tmp_path, embedder=embedder)
    assert (tmp_path / "precious.txt").exists()


def big_collection(path: Path, documents: int) -> Path:
    with path.open("w") as out:
        for n in range(documents):
            text = " ".join(
                f"Document {n} sentence {s} talks about topic {n * 7 + s} in detail." for s in range(6)
            )
            out.write(json.dumps({"id": f"doc-{n}", "title": f"Doc {n}", "text": text}) + "\n")
    return path


@pytest.mark.slow
@pytest.mark.parametrize("signal_number", [signal.SIGKILL, signal.SIGINT])
def test_killed_build_leaves_previous_index_live(
    tmp_path: Path, corpus_index_dir: Path, embedder: Embedder, signal_number: int
) -> None:
    import shutil

    index_dir = tmp_path / "index"
    shutil.copytree(corpus_index_dir, index_dir)
    live = (index_dir / CURRENT).read_text()
    collection = big_collection(tmp_path / "big.jsonl", 1500)
    process = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "ingest", str(collection), "--index", str(index_dir)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # a suite started as a background job (`make test &`) ignores SIGINT, and so would the build, which
        # Python then never interrupts: Ctrl+C in a terminal is what is tested
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while not any(p.name != live.strip() and (p / VECTORS).exists() for p in index_dir.glob("v-*")):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.5)  # well inside embedding
    process.send_signal(signal_number)
    process.communicate(timeout=60)
    assert process.returncode != 0

    assert (index_dir / CURRENT).read_text() == live
    index = load_index(index_dir)
    assert index.counts() == {"documents": 1, "passages": 14}
    assert "January 6, 2017" in ask(index, embedder, "When did DHS designate election infrastructure?")
    if signal_number == signal.SIGINT:  # an interrupted build cleans up after itself
        assert [p.name for p in index_dir.glob("v-*")] == [live.strip()]
