"""The data `citewell eval` reads: question files, BEIR folders and SQuAD files, and samples of them."""

from __future__ import annotations

import csv
import json
import random
from collections import defaultdict
from pathlib import Path
from typing import Any


def read_question_file(path: Path) -> list[dict[str, Any]]:
    """The rows of a ``.jsonl`` question file: ``question``, ``expect`` (a phrase, a list of phrases any of which
    is right, or null: unanswerable), ``history``."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def read_beir(folder: Path, split: str) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    queries = {}
    with (folder / "queries.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            queries[str(record["_id"])] = record["text"]
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    with (folder / "qrels" / f"{split}.tsv").open(encoding="utf-8") as table:
        for row in csv.DictReader(table, delimiter="\t"):
            qrels[row["query-id"]][row["corpus-id"]] = int(row["score"])
    return {q: queries[q] for q in qrels if q in queries}, dict(qrels)


def read_squad(path: Path) -> tuple[list[tuple[str, str, str]], list[dict[str, Any]]]:
    """Paragraphs as (id, title, text), and questions with their paragraph id and answer texts; a question of
    SQuAD 2.0 that its paragraph does not answer has no answers (``[]``)."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    paragraphs, questions = [], []
    for article in data:
        for number, paragraph in enumerate(article["paragraphs"]):
            paragraph_id = f"{article['title']}/{number}"
            paragraphs.append((paragraph_id, article["title"].replace("_", " "), paragraph["context"]))
            for qa in paragraph["qas"]:
                answers = [] if qa.get("is_impossible") else [a["text"] for a in qa.get("answers", [])]
                questions.append(
                    {
                        "id": qa["id"],
                        "question": qa["question"],
                        "paragraph": paragraph_id,
                        "answers": answers,
                    }
                )
    return paragraphs, questions


def sample(items: list[str], limit: int | None, seed: int) -> list[str]:
    if limit is None or limit >= len(items):
        return items
    return sorted(random.Random(seed).sample(items, limit))
