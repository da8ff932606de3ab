"""The highlight is the best span of one or two adjacent sentences; span vectors are cached between questions."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from ingest import Document, Embedder, Index, build_index, load_index
from ingest.documents import RawBlock, compose_document
from service.answering import Answerer, _VectorCache
from service.retrieval import Retriever

PARAGRAPHS = [
    "The Harbor Council was founded in 1990 by local fishermen. It has run the old lighthouse on the "
    "northern cliff ever since. Visitors can climb the tower on summer weekends.",
    "The village bakery opens at six every morning. Its rye bread sells out before noon.",
    "Ferries leave the harbor for the islands twice a day. Tickets are sold on board.",
]


def build_harbor(folder: Path, embedder: Embedder, *, sentence_vectors: bool = False) -> Index:
    document = compose_document(
        id="harbor",
        title="The harbor village",
        raw_blocks=[RawBlock("paragraph", text) for text in PARAGRAPHS],
    )
    build_index([document], folder / "index", embedder=embedder, sentence_vectors=sentence_vectors)
    return load_index(folder / "index")


def answerer_over(document: Document, folder: Path, embedder: Embedder) -> Answerer:
    """An answerer over an index of ``document`` alone, built in ``folder``."""
    build_index([document], folder / "index", embedder=embedder)
    return Answerer(Retriever(load_index(folder / "index"), embedder))


def with_a_bakery(paragraph: str) -> list[RawBlock]:
    """``paragraph`` and an unrelated one, so that retrieval has something to tell it from."""
    return [RawBlock("paragraph", paragraph), RawBlock("paragraph", PARAGRAPHS[1])]


@pytest.fixture(scope="module")
def harbor_index(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Index:
    return build_harbor(tmp_path_factory.mktemp("harbor"), embedder)


def test_an_answer_split_over_two_sentences_is_highlighted_whole(
    harbor_index: Index, embedder: Embedder
) -> None:
    answer = Answerer(Retriever(harbor_index, embedder)).ask("Which council runs the lighthouse?")
    assert answer.answered
    # the council's name is in one sentence, what it runs in the next: the highlight holds both
    assert answer.answer.startswith("The Harbor Council was founded")
    assert answer.answer.endswith("on the northern cliff ever since.")


def test_an_answer_in_one_sentence_is_highlighted_alone(harbor_index: Index, embedder: Embedder) -> None:
    answer = Answerer(Retriever(harbor_index, embedder)).ask("When does the bakery open?")
    assert answer.answer == "The village bakery opens at six every morning."


class CountingEmbedder:
    """The session's model, keeping every text it is asked to encode."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self.name, self.precision = embedder.name, embedder.precision
        self.texts: list[str] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.texts.extend(texts)
        return self.embedder.encode(texts)


class CountingEncoder:
    """Stands in for the model where only the caching is under test."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return np.array([[float(len(t)), 1.0] for t in texts], dtype=np.float32)


def test_vector_cache_encodes_each_text_once_and_stays_bounded() -> None:
    encoder = CountingEncoder()
    cache = _VectorCache(encoder, capacity=3)
    first = cache.encode(["a", "bb", "a"])
    assert encoder.calls == [["a", "bb"]]
    assert first.tolist() == [[1.0, 1.0], [2.0, 1.0], [1.0, 1.0]]
    again = cache.encode(["bb", "ccc"])
    assert encoder.calls[-1] == ["ccc"] and again[0].tolist() == [2.0, 1.0]
    cache.encode(["dddd"])  # the least recently used ("a") leaves
    cache.encode(["a"])
    assert encoder.calls[-1] == ["a"]


def test_answers_are_the_same_with_a_warm_cache(harbor_index: Index, embedder: Embedder) -> None:
    answerer = Answerer(Retriever(harbor_index, embedder))
    question = "How often do ferries leave for the islands?"
    cold = answerer.ask(question)
    warm = answerer.ask(question)
    assert cold == warm and "twice a day" in warm.answer


def test_sentence_vectors_from_the_index_give_the_same_highlights_without_running_the_model_on_sentences(
    harbor_index: Index, tmp_path: Path, embedder: Embedder
) -> None:
    counting = CountingEmbedder(embedder)
    stored = Answerer(Retriever(build_harbor(tmp_path, embedder, sentence_vectors=True), counting))
    encoded = Answerer(Retriever(harbor_index, embedder))
    questions = [
        "Which council runs the lighthouse?",  # a pair: its vector is made from its two sentences
        "When does the bakery open?",
        "How often do ferries leave for the islands?",
    ]
    for question in questions:
        from_index, from_model = stored.ask(question), encoded.ask(question)
        assert from_index.answer == from_model.answer
        assert from_index.passages[0].score == pytest.approx(from_model.passages[0].score, abs=0.03)
    assert counting.texts == questions  # the questions alone: no sentence went through the model


def test_a_term_is_quoted_with_its_description_but_a_list_of_links_is_not(
    tmp_path: Path, embedder: Embedder
) -> None:
    links = ["Home", "Tickets", "Timetable", "Contact"]
    document = compose_document(
        id="ferries",
        title="Ferries",
        raw_blocks=[
            *(RawBlock("label", link) for link in links),
            RawBlock("paragraph", PARAGRAPHS[2]),
            RawBlock("label", "Bakery"),
            RawBlock("paragraph", PARAGRAPHS[1]),
        ],
    )
    answerer = answerer_over(document, tmp_path, embedder)

    bakery = answerer.ask("When does the bakery open?").passages[0]
    assert bakery.text == "Bakery\n\n" + PARAGRAPHS[1]
    assert (
        bakery.text[bakery.highlights[0].start : bakery.highlights[0].end] == PARAGRAPHS[1].split(" Its")[0]
    )

    ferries = answerer.ask("How often do ferries leave for the islands?").passages[0]
    assert ferries.text == PARAGRAPHS[2]


def test_a_sentence_that_points_back_is_highlighted_with_the_one_it_continues(
    tmp_path: Path, embedder: Embedder
) -> None:
    """ "This is …" carries the second half of the answer: read alone, it is about nothing the question names."""
    document = compose_document(
        id="methods",
        title="Classes",
        raw_blocks=with_a_bakery(
            "Often, the first argument of a method is called self. This is nothing more than a convention: "
            "the name self has absolutely no special meaning to Python. Methods may call other methods."
        ),
    )
    answer = answerer_over(document, tmp_path, embedder).ask(
        "Does the first parameter of a method have to be called self?"
    )
    assert answer.answer == (
        "Often, the first argument of a method is called self. This is nothing more than a convention: "
        "the name self has absolutely no special meaning to Python."
    )


def test_a_sentence_that_introduces_a_list_is_highlighted_with_its_items(
    tmp_path: Path, embedder: Embedder
) -> None:
    items = ["at the harbor office;", "on board, in cash;", "online, up to a day before sailing."]
    document = compose_document(
        id="tickets",
        title="Ferries",
        raw_blocks=[
            RawBlock(
                "paragraph", "Ferries leave twice a day. Tickets for the ferry can be bought in three ways:"
            ),
            *(RawBlock("paragraph", item) for item in items),
            RawBlock("paragraph", "Children under four travel free. " + PARAGRAPHS[1]),
        ],
    )
    answer = answerer_over(document, tmp_path, embedder).ask("Where can I buy a ferry ticket?")
    assert answer.answer == "\n\n".join(["Tickets for the ferry can be bought in three ways:", *items])
    first = answer.passages[0]
    assert first.text.endswith(items[-1])
    assert document.text[first.source.start : first.source.end] == first.text


def test_a_why_question_highlights_the_advantage_a_sentence_gives(tmp_path: Path, embedder: Embedder) -> None:
    document = compose_document(
        id="files",
        title="Reading and Writing Files",
        raw_blocks=with_a_bakery(
            "It is good practice to use the with keyword when dealing with file objects. The advantage is "
            "that the file is properly closed after its suite finishes, even if an exception is raised."
        ),
    )
    answer = answerer_over(document, tmp_path, embedder).ask("Why should I open files with the with keyword?")
    assert answer.answered and "the file is properly closed" in answer.answer
