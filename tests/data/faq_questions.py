"""Writes ``python-faq-questions.jsonl``: the questions of Python's FAQ (Debian's python3.11-doc, which `make test`
unpacks), one for each heading that asks a question, expecting either of the first two sentences of the first
paragraph under it (their first 70 characters): an FAQ answers its question first.

    python tests/data/faq_questions.py .citewell/python3.11-doc/usr/share/doc/python3.11/html/faq tests/data

``python-faq-reworded-questions.jsonl`` (written by hand, not by this script) asks 36 of them in other words,
with the same expected sentences.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ingest import ANSWER_KINDS, load_documents
from ingest.chunking import split_sentences


def main(faq: Path, out: Path) -> None:
    questions = []
    for document in load_documents(sorted(faq.glob("*.html"))).documents:
        for heading in document.blocks:
            text = document.block_text(heading).strip()
            if heading.kind != "heading" or not text.endswith("?"):
                continue
            answer = document.block_after(heading)
            while answer is not None and answer.kind not in ANSWER_KINDS and answer.kind != "heading":
                answer = document.block_after(answer)
            if answer is None or answer.kind == "heading":
                continue
            sentences = split_sentences(document, answer)[:2]
            questions.append({"question": text, "expect": [document.text[s:e][:70] for s, e in sentences]})
    (out / "python-faq-questions.jsonl").write_text(
        "".join(json.dumps(q) + "\n" for q in questions), encoding="utf-8"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
