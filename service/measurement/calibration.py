"""Where to refuse: how a refusal threshold on the answer's confidence splits questions that a collection answers
from questions it does not, on one collection (``refusal_tradeoff``) or several at once (``refusal_across``)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from service.measurement.datasets import read_question_file, read_squad, sample
from service.measurement.ranking import mean

Report = dict[str, Any]


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
    chosen = sample([str(i) for i in range(len(texts))], limit, seed)
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


def confidences(
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
