"""Writes three question files about the reference pages of the PostgreSQL 15 documentation
(../shared/corpora/postgresql-15), each question expecting text of a term's description that is on no other page
of the set it was drawn from (for the commands, of the whole documentation):

- ``postgresql-option-questions.jsonl``: "What does <program> <option> do?" for options of the client and server
  programs (``app-*.html``), expecting the first sentence of the option's description (its first 60
  characters): the first 60 questions (seed 7) and the next 60 (seed 11, none of the first).
- ``postgresql-command-questions.jsonl``: what 60 SQL commands and programs (``sql-*.html``, ``app-*.html``, seed
  5) are for, asked as "What does <command> do?" and, every other one, "What is <command> used for?", expecting
  what its NAME line says it does ("garbage-collect and optionally analyze a database") or the first sentence of
  its description (their first 50 characters), either.
- ``postgresql-default-questions.jsonl``: "What is the default value of <setting>?" for 50 settings
  (``runtime-config*.html``, seed 3) whose description says "The default …" after its first sentence,
  expecting that sentence (its first 50 characters).

    python tests/data/reference_questions.py ../shared/corpora/postgresql-15 tests/data
"""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

from ingest import Document, load_documents
from ingest.chunking import split_sentences

OPTION = re.compile(r"--?[A-Za-z][\w-]*")
SETTING = re.compile(r"([a-z_]+_[a-z_]+) \(")
Question = dict[str, str | list[str]]
NAME_LINE = re.compile(r"(\S+(?: [A-Z]+)*) — (.+)")


def option_questions(documents: list[Document]) -> list[Question]:
    questions = []
    for document in documents:
        program = document.title.split()[0]
        for block in document.blocks:
            terms = document.terms_of(block) if block.kind == "paragraph" else []
            option = OPTION.match(document.block_text(terms[0])) if terms else None
            if option:
                start, end = split_sentences(document, block)[0]
                questions.append(
                    {
                        "question": f"What does {program} {option.group()} do?",
                        "expect": document.text[start:end][:60],
                    }
                )
    return questions


def command_questions(documents: list[Document]) -> list[Question]:
    questions: list[Question] = []
    for document in documents:
        paragraphs = [block for block in document.blocks if block.kind == "paragraph"]
        name = NAME_LINE.fullmatch(document.block_text(paragraphs[0])) if paragraphs else None
        headings = [block for block in document.blocks if block.kind == "heading"]
        described = next((h for h in headings if document.block_text(h) == "Description"), None)
        first = next((p for p in paragraphs if described and p.start > described.start), None)
        if not name or first is None:
            continue
        start, end = split_sentences(document, first)[0]
        asked = (
            f"What is {name.group(1)} used for?" if len(questions) % 2 else f"What does {name.group(1)} do?"
        )
        questions.append({"question": asked, "expect": [name.group(2)[:50], document.text[start:end][:50]]})
    return questions


def default_questions(documents: list[Document]) -> list[Question]:
    questions = []
    for document in documents:
        for block in document.blocks:
            terms = document.terms_of(block) if block.kind == "paragraph" else []
            setting = SETTING.match(document.block_text(terms[0])) if terms else None
            if not setting:
                continue
            later = [document.text[s:e] for s, e in split_sentences(document, block)[1:]]
            default = next((sentence for sentence in later if sentence.startswith("The default")), None)
            if default:
                questions.append(
                    {"question": f"What is the default value of {setting.group(1)}?", "expect": default[:50]}
                )
    return questions


def unique(questions: list[Question], documents: list[Document]) -> list[Question]:
    """Each question once, and only those whose expected texts are each on one page."""
    texts = [document.text for document in documents]
    once = {q["question"]: q for q in questions}
    return [
        q
        for q in once.values()
        if all(sum(phrase in text for text in texts) == 1 for phrase in _phrases(q["expect"]))
    ]


def _phrases(expect: str | list[str]) -> list[str]:
    return [expect] if isinstance(expect, str) else expect


def sample(questions: list[Question], seed: int, size: int, taken: set[str]) -> list[Question]:
    shuffled = [q for q in questions if q["question"] not in taken]
    random.Random(seed).shuffle(shuffled)
    return shuffled[:size]


def write(path: Path, questions: list[Question]) -> None:
    path.write_text("".join(json.dumps(q) + "\n" for q in questions), encoding="utf-8")


def main(folder: Path, out: Path) -> None:
    programs = load_documents(sorted(folder.glob("app-*.html"))).documents
    options = unique(option_questions(programs), programs)
    first = sample(options, 7, 60, set())
    write(
        out / "postgresql-option-questions.jsonl",
        first + sample(options, 11, 60, {q["question"] for q in first}),
    )
    # what a command does may be said again on another page (the list of SQL commands): unique on the whole site
    site = load_documents(sorted(folder.glob("*.html"))).documents
    commands = [d for d in site if d.id.startswith(("sql-", "app-"))]
    write(
        out / "postgresql-command-questions.jsonl",
        sample(unique(command_questions(commands), site), 5, 60, set()),
    )
    settings = load_documents(sorted(folder.glob("runtime-config*.html"))).documents
    write(
        out / "postgresql-default-questions.jsonl",
        sample(unique(default_questions(settings), settings), 3, 50, set()),
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
