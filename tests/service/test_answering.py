from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest import Embedder, IncompatibleIndex, Index, build_index, load_documents, load_index
from service.answering import Answer, Answerer, Turn
from service.measurement.datasets import read_question_file
from service.retrieval import Retriever
from service.schemas import AskResponse

from ..conftest import REPO, SHARED

DEV_QUESTIONS = [
    json.loads(line) for line in (SHARED / "eval" / "dev-questions.jsonl").read_text().splitlines()
]


@pytest.fixture(scope="module")
def answerer(corpus_index: Index, embedder: Embedder) -> Answerer:
    return Answerer(Retriever(corpus_index, embedder))


def assert_contract(answer: Answer, index: Index) -> None:
    """The API contract's shape, and verbatim means verbatim."""
    body = AskResponse.of(answer, "0" * 32).model_dump(mode="json")
    assert set(body) >= {"answered", "answer", "passages"}
    spans = []
    for passage in body["passages"]:
        source = passage["source"]
        assert set(source) == {"document", "title", "section", "url", "start", "end"}
        document = index.documents[source["document"]]
        assert document.text[source["start"] : source["end"]] == passage["text"]
        assert source["title"] == document.title and source["url"] == document.url
        for highlight in passage["highlights"]:
            assert 0 <= highlight["start"] < highlight["end"] <= len(passage["text"])
        spans.append((source["document"], source["start"], source["end"]))
    for i, (doc_a, start_a, end_a) in enumerate(spans):
        for doc_b, start_b, end_b in spans[i + 1 :]:
            assert doc_a != doc_b or end_a <= start_b or end_b <= start_a, "returned passages overlap"
    scores = [p["score"] for p in body["passages"]]
    assert scores == sorted(scores, reverse=True)
    if answer.answered:
        first = body["passages"][0]
        highlight = first["highlights"][0]
        assert answer.answer == first["text"][highlight["start"] : highlight["end"]]
        assert "message" not in body
    else:
        assert answer.answer == "" and body["message"]
        assert all(p["highlights"] == [] for p in body["passages"])


# The highlight misses these two (the right sentence is in the top three passages): MiniLM scores the
# sentence naming the council below two that name NASS and the federal government, and "centralized" stems
# to the "central" of another sentence while "decentralized" does not. strict: a fix makes them fail loudly.
KNOWN_HIGHLIGHT_MISSES = {
    "Which council has NASS used to work with the federal government?",
    "Is the voting process centralized?",
}


@pytest.mark.parametrize("row", DEV_QUESTIONS, ids=[row["question"] for row in DEV_QUESTIONS])
def test_dev_questions_answer_verbatim_or_refuse(answerer: Answerer, corpus_index: Index, row: dict) -> None:
    answer = answerer.ask(row["question"])
    assert_contract(answer, corpus_index)
    if row["expect"] is None:
        assert not answer.answered
        assert "do not answer" in (answer.message or "")
    else:
        assert answer.answered
        assert row["expect"].casefold() in " ".join(p.text for p in answer.passages).casefold()


@pytest.mark.parametrize(
    "row",
    [
        pytest.param(
            row,
            marks=[pytest.mark.xfail(strict=True, reason="known miss")]
            if row["question"] in KNOWN_HIGHLIGHT_MISSES
            else [],
        )
        for row in DEV_QUESTIONS
        if row["expect"]
    ],
    ids=[row["question"] for row in DEV_QUESTIONS if row["expect"]],
)
def test_dev_questions_highlight_the_expected_words(answerer: Answerer, row: dict) -> None:
    assert row["expect"].casefold() in answerer.ask(row["question"]).answer.casefold()


def test_extra_questions_about_the_corpus_are_answered_and_others_refused(answerer: Answerer) -> None:
    rows = read_question_file(REPO / "tests" / "data" / "corpus-questions.jsonl")
    answers = [answerer.ask(row["question"]) for row in rows]
    answerable = [(row, a) for row, a in zip(rows, answers, strict=True) if row["expect"]]
    assert all(a.answered for _, a in answerable)
    hits = sum(row["expect"].casefold() in a.answer.casefold() for row, a in answerable)
    assert hits >= len(answerable) - 2
    # far from the corpus: refused; near it ("Who won the 2016 presidential election?") is not asserted
    for question in ("What is the capital of France?", "How do vaccines train the immune system?"):
        assert not answerer.ask(question).answered


def test_a_list_of_links_under_a_heading_that_asks_the_question_does_not_crowd_out_the_answer(
    answerer: Answerer,
) -> None:
    # The section "Who Oversees the Elections Process in the U.S.?" ends in a list of links, cut into many short
    # windows that match the heading better than the paragraph that answers; all six windows scored used to be
    # links, and the answer was "About Cybersecurity and Our Elections (September 2016)".
    answer = answerer.ask("Who oversees elections in the U.S.?")
    assert answer.answered
    assert "designated chief election official" in answer.answer


@pytest.mark.parametrize("top_k", [1, 3, 10, 50])
def test_top_k_passages_never_overlap(answerer: Answerer, corpus_index: Index, top_k: int) -> None:
    answer = answerer.ask("What is NASS doing about election security?", top_k=top_k)
    assert 1 <= len(answer.passages) <= top_k
    assert_contract(answer, corpus_index)


def test_passage_quotes_its_section_and_reads_on_its_own(answerer: Answerer) -> None:
    answer = answerer.ask("What did DHS do in January 2017?")
    first = answer.passages[0]
    assert "January 6, 2017" in answer.answer
    assert first.source.section == "Who Oversees the Elections Process in the U.S.?"
    assert len(first.text) > len(answer.answer)  # neighbouring sentences give context


@pytest.mark.parametrize("question", ["What does EIS-GCC stand for?", "What is EIS-GCC short for?"])
def test_a_question_about_an_acronym_highlights_where_it_is_spelled_out(
    answerer: Answerer, question: str
) -> None:
    """Not the related link whose title begins with it ("EIS-GCC: An Open Letter to American Voters")."""
    answer = answerer.ask(question)
    assert answer.answered
    assert "Election Infrastructure Subsector Government Coordinating Council (EIS-GCC)" in answer.answer


@pytest.fixture(scope="module")
def seed_text_answerer(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Answerer:
    """The seed page as it was given, plain text: its caption line reads as a heading there, not a label."""
    index_dir = tmp_path_factory.mktemp("seed-text") / "index"
    build_index(
        load_documents([SHARED / "corpus" / "securing-elections.txt"]).documents, index_dir, embedder=embedder
    )
    return Answerer(Retriever(load_index(index_dir), embedder))


@pytest.mark.parametrize("page", ["shipped Markdown", "seed text"])
def test_prose_answers_before_a_related_link_title_that_names_the_same_thing(
    page: str, answerer: Answerer, seed_text_answerer: Answerer
) -> None:
    """The page's row of related links ("RELATED: … | EIS-GCC: An Open Letter to American Voters (March 2018) |
    …") names the council as closely as the sentence that says what it is for; the sentence is the answer. A
    question about a title itself is still answered by it ("When did NASS write to Facebook?", a dev question)."""
    chosen = answerer if page == "shipped Markdown" else seed_text_answerer
    answer = chosen.ask("What is the EIS-GCC used for?")
    assert answer.answered
    assert "to open communications channels" in answer.answer and "Open Letter" not in answer.answer
    answer = chosen.ask("When did NASS write to Facebook?")
    assert answer.answered and "NASS Letter to Facebook on Preparing for 2020 (March 2019)" in answer.answer


def test_refusal_names_the_nearest_topics(answerer: Answerer) -> None:
    answer = answerer.ask("Can you recommend a good pizza place?")
    assert not answer.answered and answer.answer == ""
    assert "Who Oversees the Elections Process in the U.S.?" in (answer.message or "")


def test_follow_up_uses_history_and_standalone_ignores_it(answerer: Answerer, corpus_index: Index) -> None:
    history = [
        Turn("user", "What did DHS do in January 2017?"),
        Turn("assistant", "It designated election infrastructure as critical infrastructure."),
    ]
    follow_up = answerer.ask("Which agency did that?", history)
    assert_contract(follow_up, corpus_index)
    assert follow_up.answered and "Department of Homeland Security" in follow_up.answer

    standalone = answerer.ask("When did NASS write to Facebook?", history)
    assert standalone.answered and "Facebook" in standalone.answer


def test_every_passage_of_a_larger_answer_is_verbatim(
    tmp_path: Path, answerer: Answerer, corpus_index: Index
) -> None:
    for question in (
        "elections",
        "?",
        "NASS NASS NASS",
        "x" * 1000,
        "Ünïcödé façade \u2013 \u201cquotes\u201d",
    ):
        assert_contract(answerer.ask(question, top_k=5), corpus_index)


def test_open_reads_the_model_from_the_index_manifest(corpus_index_dir: Path, embedder: Embedder) -> None:
    opened = Answerer.open(corpus_index_dir, embedder=embedder)
    assert opened.index.model == embedder.name
    assert "January 6, 2017" in opened.ask("What did DHS do in January 2017?").answer
    with pytest.raises(IncompatibleIndex, match="other-model"):
        Answerer.open(corpus_index_dir, model="sentence-transformers/other-model")


def test_a_follow_up_that_opens_with_and_is_answered_in_the_conversation(answerer: Answerer) -> None:
    """Alone, "And state legislators?" matches nothing well enough to answer (cosine 0.42) and was refused."""
    history = [Turn("user", "What role do governors play in election security?")]
    answer = answerer.ask("And state legislators?", history)
    assert answer.answered and "state legislators make policy and budget decisions" in answer.answer
    # the widget sends that answer back: the same sentence answers both, and has the follow-up's words
    first = answerer.ask(history[0].content)
    assert first.answer == answer.answer
    again = answerer.ask("And state legislators?", [*history, Turn("assistant", first.answer)])
    assert again.answer == answer.answer
