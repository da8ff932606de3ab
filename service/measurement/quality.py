"""`citewell eval`: measures retrieval and answers on a question file, a BEIR folder or a SQuAD file.

Each evaluation returns a report (a dict that is printed as a table and written as JSON). BEIR and SQuAD
corpora are ingested into a cached index (``service.measurement.cache``), so a second run only re-reads it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from pathlib import Path

from ingest import ChunkingConfig, Embedder, build_index
from ingest.documents import RawBlock, compose_document
from service.answering import Answerer, AnswerSettings, Turn
from service.measurement.cache import cached_index, ingest_every_document
from service.measurement.calibration import Report, calibration_questions, confidences, refusal_tradeoff
from service.measurement.datasets import read_beir, read_question_file, read_squad, sample
from service.measurement.ranking import mean, mrr_at_k, ndcg_at_k, recall_at_k
from service.retrieval import RetrievalWeights, Retriever


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


def as_the_widget_sends(answerer: Answerer, history: Sequence[Turn]) -> list[Turn]:
    """``history`` with citewell's own answer after each question that has none, as the widget sends a
    conversation (the answer, or the refusal's message): a question file lists only what the user asked."""
    conversation: list[Turn] = []
    for number, turn in enumerate(history):
        conversation.append(turn)
        answered_next = number + 1 < len(history) and history[number + 1].role == "assistant"
        if turn.role == "user" and not answered_next:
            said = answerer.ask(turn.content, conversation[:-1])
            conversation.append(Turn("assistant", said.answer or said.message or ""))
    return conversation


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
        history = as_the_widget_sends(
            answerer, [Turn(t["role"], t["content"]) for t in row.get("history") or []]
        )
        answer = answerer.ask(row["question"], history)
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
        "confidences": confidences(answerable, unanswerable),
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
        lambda index_dir: ingest_every_document([corpus], index_dir, embedder, chunking),
        cache_dir,
        embedder,
        chunking,
    )
    queries, qrels = read_beir(folder, split)
    ids = sample(sorted(queries), limit, seed)
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
    chosen = [questions[i] for i in map(int, sample([str(i) for i in range(len(questions))], limit, seed))]
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
        "confidences": confidences(results, unanswerable),
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
