from __future__ import annotations

from ingest.documents import RawBlock, compose_document, normalize_text


def test_normalize_text_nfc_nbsp_and_whitespace_runs() -> None:
    assert normalize_text("Cafe\u0301\u00a0\u00a0au \t\n lait") == "Café au lait"
    assert normalize_text("soft\u00adhyphen and zero\u200bwidth") == "softhyphen and zerowidth"
    assert normalize_text("bell\x07 and\x00 nul") == "bell and nul"
    assert normalize_text(" \u2003 ") == ""


def test_compose_joins_normalised_blocks_with_exact_offsets() -> None:
    doc = compose_document(
        id="d",
        title=None,
        raw_blocks=[
            RawBlock("heading", " The  Title ", 1),
            RawBlock("paragraph", "   "),
            RawBlock("paragraph", "First\nparagraph."),
            RawBlock("heading", "Part two", 2),
            RawBlock("paragraph", "Second\u00a0one."),
        ],
    )
    assert doc.title == "The Title"
    assert doc.text == "The Title\n\nFirst paragraph.\n\nPart two\n\nSecond one."
    assert [doc.block_text(b) for b in doc.blocks] == [
        "The Title",
        "First paragraph.",
        "Part two",
        "Second one.",
    ]
    assert [b.kind for b in doc.blocks] == ["heading", "paragraph", "heading", "paragraph"]
    # every character, the blank lines between blocks included, belongs to the block that starts at or before it
    first = doc.text.index("First")
    assert doc.block_at(0) == doc.block_at(first - 1) == doc.blocks[0]
    assert doc.block_at(first) == doc.block_at(first + 5) == doc.blocks[1]
    assert doc.block_at(len(doc.text) - 1) == doc.blocks[3]


def test_content_hash_follows_content() -> None:
    def make(text: str, title: str = "T") -> str:
        return compose_document(id="d", title=title, raw_blocks=[RawBlock("paragraph", text)]).content_hash

    assert make("Same text.") == make("Same  text.")  # normalisation happens before hashing
    assert make("Same text.") != make("Other text.")
    assert make("Same text.") != make("Same text.", title="U")


def test_a_description_is_read_after_the_terms_it_describes() -> None:
    document = compose_document(
        id="git-branch",
        title="git-branch",
        raw_blocks=[
            RawBlock("heading", "OPTIONS", 2),
            RawBlock("label", "-d"),
            RawBlock("label", "--delete"),
            RawBlock("paragraph", "Delete a branch. It must be merged."),
            RawBlock("paragraph", "Use -r together with -d to delete remote-tracking branches."),
            *(RawBlock("label", link) for link in ("Home", "Docs", "Blog", "About")),
            RawBlock("paragraph", "Four links are no term."),
        ],
    )
    delete, remote, links = (b for b in document.blocks if b.kind == "paragraph")
    assert [document.block_text(term) for term in document.terms_of(delete)] == ["-d", "--delete"]
    assert (
        document.described(delete.start, delete.start + len("Delete a branch."))
        == "-d: --delete: Delete a branch."
    )
    assert document.terms_of(remote) == [] and document.terms_of(links) == []
    assert document.described(links.start, links.end) == "Four links are no term."


def test_a_pointer_that_ends_the_description_before_is_no_term_of_the_next() -> None:
    """Git's examples end with "See also git-stash(1).", a label since it only points elsewhere; read as a term
    of the next example ("See also git-stash(1).: Reset a single file in the index: Suppose …") it lost the
    answer to "How do I undo git add for a file?"."""
    document = compose_document(
        id="git-reset",
        title="git-reset",
        raw_blocks=[
            RawBlock("label", "Interrupted workflow"),
            RawBlock("paragraph", "Suppose you are interrupted by an urgent fix request."),
            RawBlock("label", "See also git-stash(1)."),
            RawBlock("label", "Reset a single file in the index"),
            RawBlock("paragraph", "Suppose you have added a file to your index, but later decide otherwise."),
        ],
    )
    suppose = document.blocks[-1]
    assert [document.block_text(term) for term in document.terms_of(suppose)] == [
        "Reset a single file in the index"
    ]
    assert document.described(suppose.start, suppose.end).startswith(
        "Reset a single file in the index: Suppose"
    )
