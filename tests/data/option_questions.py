"""Writes ``postgresql-option-questions.jsonl``: "What does <program> <option> do?" for options of the PostgreSQL
15 client and server programs (``app-*.html`` of ../shared/corpora/postgresql-15), each expecting the first
sentence of the option's description (its first 60 characters). An option whose description also appears on
another program's page is left out, so that only the program asked about answers.

The first 60 questions (seed 7) were used to choose ``AnswerSettings.named_term``; the next 60 (seed 11, none
of the first) were held out to check it (README, Answer quality).

    python tests/data/option_questions.py ../shared/corpora/postgresql-15 tests/data/postgresql-option-questions.jsonl
"""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

from ingest import load_documents

OPTION = re.compile(r"--?[A-Za-z][\w-]*")
FIRST_SENTENCE = re.compile(r"(?<=[.])\s")


def option_questions(pages: list[Path]) -> list[dict[str, str]]:
    documents = load_documents(pages).documents
    questions = []
    for document in documents:
        program = document.title.split()[0]
        for block in document.blocks:
            terms = document.terms_of(block)
            option = (
                OPTION.match(document.block_text(terms[0])) if block.kind == "paragraph" and terms else None
            )
            if option:
                description = FIRST_SENTENCE.split(document.block_text(block))[0][:60]
                questions.append(
                    {"question": f"What does {program} {option.group()} do?", "expect": description}
                )
    texts = [document.text for document in documents]
    return [q for q in questions if sum(q["expect"] in text for text in texts) == 1]


def main(folder: Path, out: Path) -> None:
    questions = option_questions(sorted(folder.glob("app-*.html")))
    chosen: list[dict[str, str]] = []
    for seed in (7, 11):
        shuffled = questions[:]
        random.Random(seed).shuffle(shuffled)
        taken = {q["question"] for q in chosen}
        fresh = [q for q in shuffled if q["question"] not in taken]
        chosen += list({q["question"]: q for q in fresh}.values())[:60]
    out.write_text("".join(json.dumps(q) + "\n" for q in chosen), encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
