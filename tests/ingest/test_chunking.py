from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest import ChunkingConfig, Document, chunk_document, load_documents
from ingest.documents import RawBlock, compose_document
from ingest.loaders import read_file

from ..conftest import CORPUS


def assert_passages_verbatim(document: Document, config: ChunkingConfig | None = None) -> None:
    """Every passage is an exact, trimmed slice of one block that is not a heading (a paragraph, code, a label),
    made of whole sentences (lines of code), and together the passages cover every character of those blocks."""
    config = config or ChunkingConfig()
    passages = chunk_document(document, config)
    paragraphs = [b for b in document.blocks if b.kind != "heading"]
    headings = {document.block_text(b) for b in document.blocks if b.kind == "heading"}
    covered: set[int] = set()
    for passage in passages:
        assert document.text[passage.start : passage.end] == passage.text
        assert passage.text and passage.text == passage.text.strip()
        assert any(b.start <= passage.start and passage.end <= b.end for b in paragraphs)
        assert passage.sentences[0][0] == passage.start and passage.sentences[-1][1] == passage.end
        assert all(a[1] <= b[0] for a, b in zip(passage.sentences, passage.sentences[1:], strict=False))
        assert len(passage.sentences) <= config.max_sentences
        assert passage.section is None or passage.section in headings
        for start, end in passage.sentences:
            covered.update(range(start, end))
    for block in paragraphs:
        for offset in range(block.start, block.end):
            assert offset in covered or document.text[offset].isspace() or document.text[offset] == "|"


def test_shipped_corpus_passages_are_verbatim_and_sectioned() -> None:
    [document] = load_documents([CORPUS]).documents
    assert document.title == "Securing Elections"
    assert document.url == "https://www.nass.org/initiatives/election-cybersecurity"
    assert document.metadata["publisher"] == "National Association of Secretaries of State"
    assert_passages_verbatim(document)
    passages = chunk_document(document)
    assert {p.section for p in passages} == {"Who Oversees the Elections Process in the U.S.?"}
    texts = [p.text for p in passages]
    # headings are sections, never answers on their own
    assert "Securing Elections" not in texts and "More In This Section" not in texts
    # the `|`-separated line of links is split into its items
    assert "NASS Letter to Facebook on Preparing for 2020 (March 2019)" in texts


def test_windows_respect_sentences_overlap_and_length() -> None:
    sentences = [f"Sentence number {n} is here." for n in range(7)]
    doc = compose_document(id="d", title="T", raw_blocks=[RawBlock("paragraph", " ".join(sentences))])
    passages = chunk_document(doc, ChunkingConfig(max_sentences=3, overlap_sentences=1))
    assert [p.text for p in passages] == [
        " ".join(sentences[0:3]),
        " ".join(sentences[2:5]),
        " ".join(sentences[4:7]),
    ]
    short = chunk_document(doc, ChunkingConfig(max_sentences=3, overlap_sentences=0, max_chars=60))
    assert all(len(p.text) <= 60 for p in short) and len(short) == 4


def test_sentence_splitter_keeps_abbreviations_together() -> None:
    text = "The U.S. Department of Homeland Security acted on Jan. 6, 2017. NASS opposed it."
    doc = compose_document(id="d", title="T", raw_blocks=[RawBlock("paragraph", text)])
    [passage] = chunk_document(doc)
    assert [doc.text[s:e] for s, e in passage.sentences] == [
        "The U.S. Department of Homeland Security acted on Jan. 6, 2017.",
        "NASS opposed it.",
    ]


@pytest.mark.parametrize(
    "sentences",
    [
        # sentencex cuts after a full stop inside a name
        [
            "When creating a new branch, set up branch.<name>.remote and branch.<name>.merge configuration "
            "entries.",
            "Then run config.sh (see README.md) again.",
        ],
        # the Python FAQ's words: a linked page's title ends with "?" and the sentence goes on in lowercase
        [
            "See How can I create a stand-alone binary from a Python script? for a list of tools that can be "
            "used to make executables.",
            "Is a *.pyd file the same as a DLL?",
            "Yes, .pyd files are dll's.",
        ],
    ],
)
def test_a_sentence_ends_only_where_a_sentence_ends(sentences: list[str]) -> None:
    doc = compose_document(id="d", title="T", raw_blocks=[RawBlock("paragraph", " ".join(sentences))])
    [passage] = chunk_document(doc)
    assert [doc.text[s:e] for s, e in passage.sentences] == sentences


words = st.lists(
    st.sampled_from([*"abcdeXYZ éü日本 \u00a0\u2003\t,;:'\"()-|?!.\u0301", "U.S.", "Dr.", "e.g.", "word "]),
    max_size=30,
).map("".join)
sentence = st.builds(lambda w, end: w + end, words, st.sampled_from([".", "?", "!", "", " |", ".\n"]))
paragraph = st.lists(sentence, min_size=1, max_size=8).map(" ".join)
raw_blocks = st.lists(
    st.one_of(
        paragraph.map(lambda t: RawBlock("paragraph", t)),
        words.map(lambda t: RawBlock("heading", t, 2)),
    ),
    min_size=1,
    max_size=6,
)
configs = st.builds(
    lambda n, o, c: ChunkingConfig(max_sentences=n, overlap_sentences=min(o, n - 1), max_chars=c),
    st.integers(1, 4),
    st.integers(0, 3),
    st.integers(20, 400),
)


@given(raw_blocks, configs)
@settings(max_examples=300, deadline=None)
def test_generated_documents_have_verbatim_passages(blocks: list[RawBlock], config: ChunkingConfig) -> None:
    document = compose_document(id="gen", title="Generated", raw_blocks=blocks)
    assert_passages_verbatim(document, config)


file_text = st.lists(st.one_of(paragraph, words), min_size=1, max_size=8).map(
    lambda parts: "\n\n".join(parts)
)


@given(file_text, st.sampled_from([".txt", ".md", ".html"]))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_generated_files_load_to_verbatim_passages(text: str, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"doc{suffix}"
        path.write_text(f"<html><body><p>{text}</p></body></html>" if suffix == ".html" else text, "utf-8")
        try:
            documents = list(read_file(path, "doc"))
        except Exception as exc:  # only the documented refusal is allowed
            assert type(exc).__name__ == "BadDocument", exc
            return
        for document in documents:
            assert isinstance(document, Document)
            assert_passages_verbatim(document)


def test_a_run_on_sentence_is_cut_into_passages_of_bounded_length() -> None:
    """A 200,000-character "sentence" (no full stop anywhere) becomes many passages, none longer than the limit,
    cut after commas where it has them; the text stays verbatim."""
    clause = "the harbour ferry leaves the north pier every forty minutes between dawn and dusk, "
    raw = (clause * 2400).strip()
    document = compose_document(id="d", title="T", raw_blocks=[RawBlock("paragraph", raw)])
    config = ChunkingConfig()
    passages = chunk_document(document, config)
    assert len(passages) >= 190  # about 1,000 characters each
    assert all(p.end - p.start <= config.max_chars for p in passages)
    assert all(document.text[p.start : p.end] == p.text for p in passages)
    sentences = sorted({s for p in passages for s in p.sentences})
    assert all(document.text[end - 1] == "," for _, end in sentences[:-1])
    assert sentences[0][0] == 0 and sentences[-1][1] == len(document.text)
