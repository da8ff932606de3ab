"""`citewell eval`: measures retrieval and answers on a question file, a BEIR folder or a SQuAD file.

Each evaluation returns a report (a dict that is printed as a table and written as JSON). BEIR and SQuAD
corpora are ingested into a cached index (keyed by the corpus file's content hash), so a second run only
re-reads it.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
import re
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ingest import ChunkingConfig, Embedder, Index, build_index, ingest_paths, load_index
from ingest.documents import RawBlock, compose_document
from ingest.errors import IngestError
from service.answering import Answerer, AnswerSettings
from service.metrics import mean, mrr_at_k, ndcg_at_k, recall_at_k
from service.retrieval import RetrievalWeights, Retriever

Report = dict[str, Any]


def _normalised(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def contains(haystack: str, needle: str) -> bool:
    return _normalised(needle) in _normalised(haystack)


# --- a question file ----------------------------------------------------------------------------------------


def evaluate_questions(path: Path, answerer: Answerer) -> Report:
    """Questions with ``expect`` (a phrase the answer must quote, or null where the corpus has no answer)."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    results = []
    for row in rows:
        answer = answerer.ask(row["question"], row.get("history") or [])
        expect = row.get("expect")
        texts = [p.text for p in answer.passages]
        results.append(
            {
                "question": row["question"],
                "expect": expect,
                "answered": answer.answered,
                "answer": answer.answer,
                "score": answer.passages[0].score if answer.passages else None,
                "answer_hit": bool(expect) and answer.answered and contains(answer.answer, expect),
                "hit@1": bool(expect) and any(contains(t, expect) for t in texts[:1]),
                "hit@3": bool(expect) and any(contains(t, expect) for t in texts[:3]),
            }
        )
    answerable = [r for r in results if r["expect"]]
    unanswerable = [r for r in results if not r["expect"]]
    return {
        "kind": "questions",
        "source": str(path),
        "questions": len(results),
        "metrics": {
            "answer_hits": sum(r["answer_hit"] for r in answerable),
            "answerable": len(answerable),
            "passage_hit@1": sum(r["hit@1"] for r in answerable),
            "passage_hit@3": sum(r["hit@3"] for r in answerable),
            "false_refusals": sum(not r["answered"] for r in answerable),
            "correct_refusals": sum(not r["answered"] for r in unanswerable),
            "unanswerable": len(unanswerable),
        },
        "results": results,
    }


# --- cached indexes for benchmark corpora ---------------------------------------------------------------------


def cached_index(
    name: str,
    source: Path,
    build: Callable[[Path], None],
    cache_dir: Path,
    embedder: Embedder,
    chunking: ChunkingConfig,
) -> Index:
    """An index of ``source`` under ``cache_dir``, rebuilt only when the file, model or chunking changed."""
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    key = hashlib.sha256(json.dumps([digest, embedder.name, chunking.as_dict()]).encode()).hexdigest()[:16]
    folder = cache_dir / f"{name}-{key}"
    index_dir, stamp = folder / "index", folder / "built-from.json"
    if not stamp.exists():
        build(index_dir)
        stamp.write_text(json.dumps({"source": str(source), "sha256": digest}), encoding="utf-8")
    return load_index(index_dir, model=embedder.name)


# --- BEIR -------------------------------------------------------------------------------------------------------


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


def rank_documents(retriever: Retriever, query: str, depth: int) -> list[str]:
    """Documents ranked by their best passage."""
    best: dict[str, float] = {}
    for candidate in retriever.search(query, depth * 10):
        document = retriever.index.passages[candidate.passage].document
        best.setdefault(document, candidate.score)
    return sorted(best, key=lambda d: -best[d])[:depth]


def evaluate_beir(
    folder: Path,
    split: str,
    embedder: Embedder,
    *,
    weights: RetrievalWeights,
    chunking: ChunkingConfig,
    cache_dir: Path,
    limit: int | None = None,
    seed: int = 13,
) -> Report:
    corpus = folder / "corpus.jsonl"
    index = cached_index(
        f"beir-{folder.name}",
        corpus,
        lambda index_dir: _ingest_every_document([corpus], index_dir, embedder, chunking),
        cache_dir,
        embedder,
        chunking,
    )
    queries, qrels = read_beir(folder, split)
    ids = _sample(sorted(queries), limit, seed)
    retriever = Retriever(index, embedder, weights)
    began = time.monotonic()
    per_query = {}
    for query_id in ids:
        ranked = rank_documents(retriever, queries[query_id], 100)
        relevance = qrels[query_id]
        per_query[query_id] = {
            "ndcg@10": ndcg_at_k(ranked, relevance, 10),
            "recall@10": recall_at_k(ranked, relevance, 10),
            "recall@100": recall_at_k(ranked, relevance, 100),
            "mrr@10": mrr_at_k(ranked, relevance, 10),
        }
    seconds = time.monotonic() - began
    metrics = {
        name: mean([q[name] for q in per_query.values()]) for name in next(iter(per_query.values()), {})
    }
    return {
        "kind": "beir",
        "source": str(folder),
        "split": split,
        "questions": len(per_query),
        "documents": len(index.documents),
        "passages": len(index.passages),
        "weights": weights.as_dict(),
        "chunking": chunking.as_dict(),
        "metrics": metrics,
        "seconds_per_query": seconds / max(len(per_query), 1),
        "per_query": per_query,
    }


def _ingest_every_document(
    paths: Sequence[Path], index_dir: Path, embedder: Embedder, chunking: ChunkingConfig
) -> None:
    report = ingest_paths(paths, index_dir, embedder=embedder, chunking=chunking, progress=True)
    if report.problems:
        raise IngestError(f"{len(report.problems)} documents could not be read, first: {report.problems[0]}")


def _sample(items: list[str], limit: int | None, seed: int) -> list[str]:
    if limit is None or limit >= len(items):
        return items
    return sorted(random.Random(seed).sample(items, limit))


# --- SQuAD ------------------------------------------------------------------------------------------------------


def read_squad(path: Path) -> tuple[list[tuple[str, str, str]], list[dict[str, Any]]]:
    """Paragraphs as (id, title, text), and answerable questions with their paragraph id and answer texts."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    paragraphs, questions = [], []
    for article in data:
        for number, paragraph in enumerate(article["paragraphs"]):
            paragraph_id = f"{article['title']}/{number}"
            paragraphs.append((paragraph_id, article["title"].replace("_", " "), paragraph["context"]))
            for qa in paragraph["qas"]:
                answers = [a["text"] for a in qa.get("answers", [])]
                if answers and not qa.get("is_impossible"):
                    questions.append(
                        {
                            "id": qa["id"],
                            "question": qa["question"],
                            "paragraph": paragraph_id,
                            "answers": answers,
                        }
                    )
    return paragraphs, questions


def evaluate_squad(
    path: Path,
    embedder: Embedder,
    *,
    weights: RetrievalWeights,
    chunking: ChunkingConfig,
    settings: AnswerSettings,
    cache_dir: Path,
    limit: int | None = None,
    seed: int = 13,
) -> Report:
    paragraphs, questions = read_squad(path)

    def build(index_dir: Path) -> None:
        documents = [
            compose_document(id=pid, title=title, raw_blocks=[RawBlock("paragraph", text)])
            for pid, title, text in paragraphs
        ]
        build_index(documents, index_dir, embedder=embedder, chunking=chunking, progress=True)

    index = cached_index(f"squad-{path.stem}", path, build, cache_dir, embedder, chunking)
    chosen = [questions[i] for i in map(int, _sample([str(i) for i in range(len(questions))], limit, seed))]
    retriever = Retriever(index, embedder, weights)
    answerer = Answerer(retriever, settings)
    began = time.monotonic()
    results = []
    for item in chosen:
        ranked = rank_documents(retriever, item["question"], 5)
        answer = answerer.ask(item["question"], top_k=1)
        results.append(
            {
                "id": item["id"],
                "recall@1": item["paragraph"] in ranked[:1],
                "recall@5": item["paragraph"] in ranked[:5],
                "answer_in_highlight": any(contains(answer.answer, gold) for gold in item["answers"]),
                "answer_in_top_passage": bool(answer.passages)
                and any(contains(answer.passages[0].text, gold) for gold in item["answers"]),
            }
        )
    seconds = time.monotonic() - began
    names = ("recall@1", "recall@5", "answer_in_highlight", "answer_in_top_passage")
    return {
        "kind": "squad",
        "source": str(path),
        "questions": len(results),
        "paragraphs": len(paragraphs),
        "weights": weights.as_dict(),
        "chunking": chunking.as_dict(),
        "metrics": {name: mean([float(r[name]) for r in results]) for name in names},
        "seconds_per_query": seconds / max(len(results), 1),
        "per_question": results,
    }


def format_report(report: Report) -> str:
    """A small table: what was measured, on what, and each metric."""
    head = f"{report['kind']} evaluation of {report['source']}"
    if "split" in report:
        head += f" ({report['split']} split)"
    lines = [head, f"questions: {report['questions']}"]
    for name in ("documents", "paragraphs", "passages", "seconds_per_query"):
        if name in report:
            value = report[name]
            lines.append(f"{name}: {value:.3f}" if isinstance(value, float) else f"{name}: {value}")
    width = max(len(name) for name in report["metrics"])
    lines.append("-" * (width + 10))
    for name, value in report["metrics"].items():
        lines.append(
            f"{name:<{width}}  {value:.4f}" if isinstance(value, float) else f"{name:<{width}}  {value}"
        )
    return "\n".join(lines)
