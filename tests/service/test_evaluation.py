"""`citewell eval` on tiny hand-made data sets whose right answers are known."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest import ChunkingConfig, Embedder, Index
from service.answering import Answerer, AnswerSettings, Turn
from service.cli import main
from service.measurement.calibration import refusal_tradeoff
from service.measurement.datasets import read_question_file
from service.measurement.quality import as_the_widget_sends, evaluate_beir, evaluate_questions, evaluate_squad
from service.retrieval import RetrievalWeights, Retriever

from ..conftest import REPO

CORPUS_QUESTIONS = REPO / "tests" / "data" / "corpus-questions.jsonl"

DOCS = {
    "volcano": ("Volcanoes", "Lava erupts from volcanoes when magma reaches the surface."),
    "bread": ("Baking bread", "Yeast makes bread dough rise before it is baked in an oven."),
    "orbit": ("Planetary orbits", "The Earth orbits the Sun once every year."),
}


@pytest.fixture
def beir_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "tiny-beir"
    (folder / "qrels").mkdir(parents=True)
    with (folder / "corpus.jsonl").open("w") as out:
        for doc_id, (title, text) in DOCS.items():
            out.write(json.dumps({"_id": doc_id, "title": title, "text": text}) + "\n")
    queries = {"q1": "Why does dough rise?", "q2": "How long does the Earth take to go around the Sun?"}
    (folder / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": k, "text": v}) + "\n" for k, v in queries.items())
    )
    (folder / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\nq1\tbread\t1\nq2\torbit\t1\nq2\tnot-in-corpus\t1\n"
    )
    return folder


def test_beir_metrics_on_a_tiny_collection(beir_folder: Path, tmp_path: Path, embedder: Embedder) -> None:
    report = evaluate_beir(
        beir_folder,
        "test",
        embedder,
        weights=RetrievalWeights(),
        chunking=ChunkingConfig(),
        cache_dir=tmp_path / "c",
    )
    assert report["questions"] == 2 and report["documents"] == 3
    # q1: bread first -> 1.0; q2: orbit first, and a second relevant document that the corpus lacks
    # -> DCG = 1, ideal = 1 + 1/log2(3); recall 1/2
    per_query = report["per_query"]
    assert per_query["q1"] == {"ndcg@10": 1.0, "recall@10": 1.0, "recall@100": 1.0, "mrr@10": 1.0}
    assert per_query["q2"]["ndcg@10"] == pytest.approx(1 / (1 + 1 / 1.5849625007211562))
    assert per_query["q2"]["recall@10"] == 0.5 and per_query["q2"]["mrr@10"] == 1.0
    assert report["metrics"]["recall@100"] == 0.75
    # the second run reads the cached index instead of building it again
    cached = list((tmp_path / "c").iterdir())
    again = evaluate_beir(
        beir_folder,
        "test",
        embedder,
        weights=RetrievalWeights(),
        chunking=ChunkingConfig(),
        cache_dir=tmp_path / "c",
    )
    assert list((tmp_path / "c").iterdir()) == cached and again["metrics"] == report["metrics"]


def test_squad_metrics_on_a_tiny_file(tmp_path: Path, embedder: Embedder) -> None:
    squad = {
        "data": [
            {
                "title": "Bread",
                "paragraphs": [
                    {
                        "context": "Bread is old. Yeast makes bread dough rise. Ovens bake it.",
                        "qas": [
                            {"id": "a", "question": "What makes dough rise?", "answers": [{"text": "Yeast"}]}
                        ],
                    },
                    {
                        "context": "The Earth orbits the Sun. One orbit takes a year.",
                        "qas": [
                            {
                                "id": "b",
                                "question": "How long is one orbit?",
                                "answers": [{"text": "a year"}],
                            },
                            # SQuAD 2.0: a question its paragraph does not answer
                            {
                                "id": "c",
                                "question": "Who won the 1998 World Cup?",
                                "answers": [],
                                "is_impossible": True,
                            },
                        ],
                    },
                ],
            }
        ]
    }
    path = tmp_path / "tiny-squad.json"
    path.write_text(json.dumps(squad))
    report = evaluate_squad(
        path,
        embedder,
        weights=RetrievalWeights(),
        chunking=ChunkingConfig(),
        settings=AnswerSettings(),
        cache_dir=tmp_path / "c",
    )
    assert report["questions"] == 3 and report["unanswerable"] == 1 and report["paragraphs"] == 2
    assert report["metrics"] == {
        "recall@1": 1.0,
        "recall@5": 1.0,
        "answered": 1.0,
        "answer_in_highlight": 1.0,
        "answer_in_top_passage": 1.0,
        "false_refusal_rate": 0.0,
        "correct_refusal_rate": 1.0,
    }
    assert len(report["confidences"]["answerable"]) == 2 and len(report["confidences"]["unanswerable"]) == 1


def test_expect_may_list_several_right_phrases(
    tmp_path: Path, corpus_index: Index, embedder: Embedder
) -> None:
    questions = tmp_path / "q.jsonl"
    rows = [
        {
            "question": "When did NASS write to Facebook?",
            "expect": ["nowhere to be found", "Letter to Facebook"],
        }
    ]
    questions.write_text(json.dumps(rows[0]))
    report = evaluate_questions(questions, Answerer(Retriever(corpus_index, embedder)))
    assert report["metrics"]["answer_hits"] == 1


def test_calibrate_chooses_one_threshold_for_several_collections(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reports = []
    for name, answerable, unanswerable in [
        ("docs", [0.55, 0.6, 0.7], [0.2, 0.45]),
        ("wiki", [0.5, 0.8], [0.3]),
    ]:
        path = tmp_path / f"{name}.json"
        path.write_text(
            json.dumps(
                {"source": name, "confidences": {"answerable": answerable, "unanswerable": unanswerable}}
            )
        )
        reports.append(str(path))
    assert main(["calibrate", *reports, "--min-score", "0.65"]) == 0
    out = capsys.readouterr().out
    assert "calibrated min_score 0.475" in out  # the middle of 0.455 to 0.5, where every question is right
    assert "docs" in out and "0.667 / 1.000" in out  # at 0.65: two of docs' three answerable refused
    broken = tmp_path / "broken.json"
    broken.write_text("{}")
    assert main(["calibrate", str(broken)]) == 1


def test_question_file_counts(tmp_path: Path, corpus_index: Index, embedder: Embedder) -> None:
    questions = tmp_path / "q.jsonl"
    rows = [
        {"question": "When did NASS write to Facebook?", "expect": "Letter to Facebook"},
        {"question": "When did NASS write to Facebook?", "expect": "a phrase that is nowhere"},
        {"question": "What is the boiling point of water?", "expect": None},
    ]
    questions.write_text("\n".join(json.dumps(r) for r in rows))
    report = evaluate_questions(questions, Answerer(Retriever(corpus_index, embedder)))
    assert report["metrics"] == {
        "answer_hits": 1,
        "answerable": 2,
        "passage_hit@1": 1,
        "passage_hit@3": 1,
        "false_refusals": 0,
        "correct_refusals": 1,
        "unanswerable": 1,
    }


def test_a_conversation_is_asked_as_the_widget_sends_it(corpus_index: Index, embedder: Embedder) -> None:
    """A question file lists only what the user asked; the widget sends each answer back (or the refusal's
    message), and a follow-up is read with it."""
    answerer = Answerer(Retriever(corpus_index, embedder))
    asked = [Turn("user", "Who oversees elections?"), Turn("user", "What is the boiling point of water?")]
    conversation = as_the_widget_sends(answerer, asked)
    first, second = answerer.ask(asked[0].content), answerer.ask(asked[1].content, conversation[:2])
    assert first.answered and not second.answered and second.message
    assert conversation == [
        asked[0],
        Turn("assistant", first.answer),
        asked[1],
        Turn("assistant", second.message),
    ]
    # turns the file answers itself are kept as they are
    assert as_the_widget_sends(answerer, conversation) == conversation


def test_eval_command_prints_a_table_and_writes_json(
    tmp_path: Path, corpus_index_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        json.dumps({"question": "Who else plays a part in election security?", "expect": "Governors"})
    )
    output = tmp_path / "report.json"
    assert main(["eval", str(questions), "--index", str(corpus_index_dir), "--output", str(output)]) == 0
    printed = capsys.readouterr().out
    assert "answer_hits       1" in printed
    assert json.loads(output.read_text())["metrics"]["answer_hits"] == 1


def test_refusal_tradeoff_puts_the_threshold_between_the_two_kinds_of_question() -> None:
    tradeoff = refusal_tradeoff([0.5, 0.6, 0.7], [0.1, 0.2, 0.3], current=0.55)
    assert tradeoff["calibrated"] == {
        "threshold": 0.4,
        "false_refusal_rate": 0.0,
        "correct_refusal_rate": 1.0,
    }
    assert tradeoff["current"]["false_refusal_rate"] == pytest.approx(1 / 3)
    assert tradeoff["on_topic"]["min"] == 0.5 and tradeoff["off_topic"]["max"] == 0.3
    assert tradeoff["on_topic_scores"] == [0.5, 0.6, 0.7]


def test_refusal_tradeoff_keeps_a_margin_below_the_answerable_questions() -> None:
    # the sample alone is best cut just below 0.5; one unanswerable outlier must not pull the threshold there,
    # where the next answerable question scoring 0.49 would be refused
    on_topic = [0.5, 0.55, 0.6, 0.62, 0.65, 0.7, 0.72, 0.75]
    off_topic = [0.02 * i for i in range(20)] + [0.48]
    calibrated = refusal_tradeoff(on_topic, off_topic, current=0.35)["calibrated"]
    assert 0.4 < calibrated["threshold"] < 0.48
    assert calibrated["false_refusal_rate"] == 0.0
    assert calibrated["correct_refusal_rate"] == pytest.approx(20 / 21)


def test_calibration_reports_how_the_threshold_splits_questions(
    tmp_path: Path, corpus_index: Index, embedder: Embedder, beir_folder: Path
) -> None:
    questions = tmp_path / "q.jsonl"
    rows = [
        {"question": "When did NASS write to Facebook?", "expect": "Letter to Facebook"},
        {"question": "What is the boiling point of water?", "expect": None},
    ]
    questions.write_text("\n".join(json.dumps(r) for r in rows))
    report = evaluate_questions(
        questions, Answerer(Retriever(corpus_index, embedder)), calibrate=[CORPUS_QUESTIONS, beir_folder]
    )
    metrics = report["metrics"]
    extra = read_question_file(CORPUS_QUESTIONS)
    answerable = 1 + sum(1 for row in extra if row["expect"])
    assert metrics["calibration_answerable"] == answerable
    assert metrics["calibration_unanswerable"] == 1 + (len(extra) - answerable + 1) + 2  # + the BEIR queries
    refusal = report["refusal"]
    assert refusal["on_topic"]["count"] == answerable
    assert refusal["off_topic"]["min"] <= refusal["off_topic"]["median"] <= refusal["off_topic"]["max"]
    # questions about the corpus score well above those about baking, orbits or boiling water
    assert refusal["on_topic"]["median"] > refusal["off_topic"]["median"] + 0.2
    assert refusal["off_topic"]["min"] < refusal["calibrated"]["threshold"] < refusal["on_topic"]["max"]
    assert metrics["calibrated_min_score"] == refusal["calibrated"]["threshold"]

    assert len(refusal["off_topic_scores"]) == metrics["calibration_unanswerable"]
