"""`citewell eval`: measures retrieval and answers on a question file, a BEIR folder or a SQuAD file.

Each evaluation returns a report (a dict that is printed as a table and written as JSON). BEIR and SQuAD
corpora are ingested into a cached index (keyed by the corpus file's content hash), so a second run only
re-reads it.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
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


def contains(haystack: str, needle: str | Sequence[str]) -> bool:
    """Whether ``haystack`` quotes ``needle``, or any one of a list of phrases (each a right answer).

    Example:
        >>> contains("Polls  open at 7 a.m.", ["close at 8", "open at 7"])
        True
    """
    phrases = [needle] if isinstance(needle, str) else needle
    return any(_normalised(phrase) in _normalised(haystack) for phrase in phrases)


# --- a question file ----------------------------------------------------------------------------------------


def read_question_file(path: Path) -> list[dict[str, Any]]:
    """The rows of a ``.jsonl`` question file: ``question``, ``expect`` (a phrase, a list of phrases any of which
    is right, or null: unanswerable), ``history``."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def evaluate_questions(
    path: Path,
    answerer: Answerer,
    *,
    calibrate: Sequence[Path] = (),
    limit: int | None = None,
    seed: int = 13,
) -> Report:
    """Questions with ``expect`` (a phrase the answer must quote, or null where the corpus has no answer).

    With ``calibrate`` (more question files, BEIR folders or SQuAD files whose questions the corpus cannot
    answer; ``limit`` samples each benchmark), the report adds how the refusal threshold separates the
    answerable questions from the rest (see ``refusal_tradeoff``).
    """
    rows = read_question_file(path)
    results = []
    for row in rows:
        answer = answerer.ask(row["question"], row.get("history") or [])
        expect: str | list[str] = row.get("expect") or ""
        texts = [p.text for p in answer.passages]
        results.append(
            {
                "question": row["question"],
                "expect": expect or None,
                "answered": answer.answered,
                "answer": answer.answer,
                "score": answer.confidence,
                "answer_hit": bool(expect) and answer.answered and contains(answer.answer, expect),
                "hit@1": bool(expect) and any(contains(t, expect) for t in texts[:1]),
                "hit@3": bool(expect) and any(contains(t, expect) for t in texts[:3]),
            }
        )
    answerable = [r for r in results if r["expect"]]
    unanswerable = [r for r in results if not r["expect"]]
    report: Report = {
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
        "confidences": _confidences(answerable, unanswerable),
        "results": results,
    }
    if calibrate:
        on_topic = [r["score"] or 0.0 for r in answerable]
        off_topic = [r["score"] or 0.0 for r in unanswerable]
        for source in calibrate:
            for question, answerable_here in calibration_questions(source, limit, seed):
                confidence = answerer.ask(question).confidence
                (on_topic if answerable_here else off_topic).append(confidence or 0.0)
        refusal = refusal_tradeoff(on_topic, off_topic, answerer.settings.min_score)
        report["refusal"] = refusal
        report["metrics"].update(
            {
                "calibration_answerable": len(on_topic),
                "calibration_unanswerable": len(off_topic),
                "min_score": refusal["current"]["threshold"],
                "false_refusal_rate": refusal["current"]["false_refusal_rate"],
                "correct_refusal_rate": refusal["current"]["correct_refusal_rate"],
                "calibrated_min_score": refusal["calibrated"]["threshold"],
            }
        )
    return report


# --- refusal calibration ------------------------------------------------------------------------------------


def calibration_questions(source: Path, limit: int | None, seed: int) -> list[tuple[str, str | None]]:
    """(question, expect) pairs: a question file keeps its own ``expect``; the questions of a BEIR folder or
    a SQuAD file are about another corpus, so none of them is answerable here (``expect`` None)."""
    if source.suffix == ".jsonl":
        return [(row["question"], row.get("expect")) for row in read_question_file(source)]
    if source.is_dir():
        with (source / "queries.jsonl").open(encoding="utf-8") as lines:
            texts = [json.loads(line)["text"] for line in lines if line.strip()]
    else:
        texts = [item["question"] for item in read_squad(source)[1]]
    chosen = _sample([str(i) for i in range(len(texts))], limit, seed)
    return [(texts[int(i)], None) for i in chosen]


def refusal_tradeoff(on_topic: Sequence[float], off_topic: Sequence[float], current: float) -> dict[str, Any]:
    """How a refusal threshold splits the best-evidence scores of answerable (``on_topic``) and unanswerable
    (``off_topic``) questions: their distributions, the rates at ``current`` and at the calibrated threshold.

    The calibrated threshold maximises (share of answerable questions answered + share of unanswerable ones
    refused), each share estimated from a smoothed distribution (a Gaussian kernel on every score, Silverman's
    bandwidth) rather than from the sample alone: the sample's best cut sits a hair below the lowest
    answerable score, and an unseen answerable question a little below it would be refused.

    Example:
        >>> refusal_tradeoff([0.5, 0.6, 0.7], [0.1, 0.2, 0.3], 0.35)["calibrated"]["threshold"]
        0.4
    """

    def rates(threshold: float) -> dict[str, float]:
        return {
            "threshold": round(threshold, 4),
            "false_refusal_rate": mean([float(s < threshold) for s in on_topic]),
            "correct_refusal_rate": mean([float(s < threshold) for s in off_topic]),
        }

    calibrated = current
    if on_topic and off_topic:
        below_on, below_off = _smoothed_share_below(on_topic), _smoothed_share_below(off_topic)
        low, high = min(*on_topic, *off_topic), max(*on_topic, *off_topic)
        grid = [low + (high - low) * i / 1000 for i in range(1001)]
        calibrated = max(grid, key=lambda t: below_off(t) - below_on(t))
    return {
        "on_topic": _distribution(on_topic),
        "off_topic": _distribution(off_topic),
        "on_topic_scores": [round(s, 4) for s in on_topic],
        "off_topic_scores": [round(s, 4) for s in off_topic],
        "current": rates(current),
        "calibrated": rates(calibrated),
        "curve": [rates(t / 100) for t in range(0, 101, 5)],
    }


def _confidences(
    answerable: Sequence[dict[str, Any]], unanswerable: Sequence[dict[str, Any]]
) -> dict[str, list[float]]:
    """What ``citewell calibrate`` reads from a report: each question's confidence, by whether it is answerable."""
    return {
        "answerable": [round(r["score"] or 0.0, 4) for r in answerable],
        "unanswerable": [round(r["score"] or 0.0, 4) for r in unanswerable],
    }


def refusal_across(reports: Sequence[Report], current: float) -> Report:
    """One refusal threshold for several collections at once, from the confidences their eval reports hold.

    The chosen threshold maximises the mean, over the collections, of their balanced accuracy: (share of the
    answerable questions answered + share of the unanswerable ones refused) / 2, or the one share a collection
    has; of a run of thresholds that reach it, the middle one. Each collection weighs the same, however many
    questions it brings. Per collection, the rates at ``current`` and at the chosen threshold.

    Example:
        >>> a = {"source": "a", "confidences": {"answerable": [0.6, 0.7], "unanswerable": [0.2, 0.5]}}
        >>> b = {"source": "b", "confidences": {"answerable": [0.45, 0.8], "unanswerable": [0.3]}}
        >>> refusal_across([a, b], 0.6)["threshold"]
        0.375
    """
    grid = [step / 200 for step in range(201)]

    def rates(report: Report, threshold: float) -> dict[str, float | None]:
        answerable, unanswerable = report["confidences"]["answerable"], report["confidences"]["unanswerable"]
        return {
            "false_refusal_rate": mean([float(s < threshold) for s in answerable]) if answerable else None,
            "correct_refusal_rate": mean([float(s < threshold) for s in unanswerable])
            if unanswerable
            else None,
        }

    def balanced(threshold: float) -> float:
        accuracies = []
        for report in reports:
            shares = [
                1.0 - rate if name == "false_refusal_rate" else rate
                for name, rate in rates(report, threshold).items()
                if rate is not None
            ]
            accuracies.append(mean(shares))
        return mean(accuracies)

    accuracy = [balanced(t) for t in grid]
    # the middle of the first run of best thresholds: a cut as far as the data allow from the nearest questions
    first = accuracy.index(max(accuracy))
    last = first
    while last + 1 < len(grid) and accuracy[last + 1] == accuracy[first]:
        last += 1
    chosen = grid[(first + last) // 2]
    return {
        "kind": "refusal",
        "threshold": chosen,
        "current": current,
        "balanced_accuracy": round(balanced(chosen), 4),
        "current_balanced_accuracy": round(balanced(current), 4),
        "collections": [
            {"source": r["source"], "at_current": rates(r, current), "at_threshold": rates(r, chosen)}
            for r in reports
        ],
    }


def _smoothed_share_below(scores: Sequence[float]) -> Callable[[float], float]:
    """The share of ``scores`` below a threshold, each score spread by a Gaussian kernel (Silverman's rule)."""
    values = sorted(scores)
    n = len(values)
    average = sum(values) / n
    spread = math.sqrt(sum((v - average) ** 2 for v in values) / max(n - 1, 1))
    iqr = values[(3 * n) // 4] - values[n // 4]
    bandwidth = 0.9 * min(spread, iqr / 1.34 if iqr > 0 else spread) * n ** (-0.2) or 1e-3

    def share(threshold: float) -> float:
        return sum(0.5 * (1 + math.erf((threshold - v) / (bandwidth * math.sqrt(2)))) for v in values) / n

    return share


def _distribution(scores: Sequence[float]) -> dict[str, float]:
    ordered = sorted(scores)
    if not ordered:
        return {"count": 0}

    def quantile(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 4)

    return {
        "count": len(ordered),
        "min": round(ordered[0], 4),
        "p05": quantile(0.05),
        "p25": quantile(0.25),
        "median": quantile(0.5),
        "p75": quantile(0.75),
        "p95": quantile(0.95),
        "max": round(ordered[-1], 4),
    }


# --- cached indexes for benchmark corpora ---------------------------------------------------------------------


def cached_index(
    name: str,
    source: Path,
    build: Callable[[Path], None],
    cache_dir: Path,
    embedder: Embedder,
    chunking: ChunkingConfig,
    *,
    sentence_vectors: bool = False,
) -> Index:
    """An index of ``source`` under ``cache_dir``, rebuilt only when the file, model, chunking or the choice of
    sentence vectors changed."""
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    recipe: list[object] = [digest, embedder.name, chunking.as_dict()]
    if sentence_vectors:  # appended only when set, so indexes cached before this option stay valid
        recipe.append("sentence-vectors")
    key = hashlib.sha256(json.dumps(recipe).encode()).hexdigest()[:16]
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
    query_embedder: Embedder | None = None,
) -> Report:
    """Retrieval metrics; ``embedder`` encodes the corpus, ``query_embedder`` (default: the same) the queries."""
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
    retriever = Retriever(index, query_embedder or embedder, weights)
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
        "query_precision": retriever.embedder.precision,
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
    query_embedder: Embedder | None = None,
    sentence_vectors: bool = False,
) -> Report:
    """Paragraph recall and answers; ``embedder`` encodes the paragraphs, ``query_embedder`` the questions;
    ``sentence_vectors`` builds the index with them (``citewell ingest --sentence-vectors``)."""
    paragraphs, questions = read_squad(path)

    def build(index_dir: Path) -> None:
        documents = [
            compose_document(id=pid, title=title, raw_blocks=[RawBlock("paragraph", text)])
            for pid, title, text in paragraphs
        ]
        build_index(
            documents,
            index_dir,
            embedder=embedder,
            chunking=chunking,
            progress=True,
            sentence_vectors=sentence_vectors,
        )

    index = cached_index(
        f"squad-{path.stem}", path, build, cache_dir, embedder, chunking, sentence_vectors=sentence_vectors
    )
    chosen = [questions[i] for i in map(int, _sample([str(i) for i in range(len(questions))], limit, seed))]
    retriever = Retriever(index, query_embedder or embedder, weights)
    answerer = Answerer(retriever, settings)
    began = time.monotonic()
    results, unanswerable = [], []
    for item in chosen:
        answer = answerer.ask(item["question"], top_k=1)
        if not item["answers"]:
            unanswerable.append({"id": item["id"], "answered": answer.answered, "score": answer.confidence})
            continue
        ranked = rank_documents(retriever, item["question"], 5)
        results.append(
            {
                "id": item["id"],
                "score": answer.confidence,
                "recall@1": item["paragraph"] in ranked[:1],
                "recall@5": item["paragraph"] in ranked[:5],
                "answered": answer.answered,
                "answer_in_highlight": any(contains(answer.answer, gold) for gold in item["answers"]),
                "answer_in_top_passage": bool(answer.passages)
                and any(contains(answer.passages[0].text, gold) for gold in item["answers"]),
            }
        )
    seconds = time.monotonic() - began
    names = ("recall@1", "recall@5", "answered", "answer_in_highlight", "answer_in_top_passage")
    metrics = {name: mean([float(r[name]) for r in results]) for name in names}
    if unanswerable:  # SQuAD 2.0: how often the questions that the paragraphs do not answer are refused
        metrics["false_refusal_rate"] = 1.0 - metrics["answered"]
        metrics["correct_refusal_rate"] = mean([float(not r["answered"]) for r in unanswerable])
    return {
        "kind": "squad",
        "source": str(path),
        "questions": len(results) + len(unanswerable),
        "unanswerable": len(unanswerable),
        "paragraphs": len(paragraphs),
        "weights": weights.as_dict(),
        "query_precision": retriever.embedder.precision,
        "sentence_vectors": index.sentence_vectors is not None,
        "chunking": chunking.as_dict(),
        "metrics": metrics,
        "confidences": _confidences(results, unanswerable),
        "seconds_per_query": seconds / max(len(chosen), 1),
        "per_question": results + unanswerable,
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
