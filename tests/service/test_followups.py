from __future__ import annotations

from service.answering import Turn, resolve_query

PREVIOUS = [
    Turn("user", "What did DHS do in January 2017?"),
    Turn("assistant", "It designated election infrastructure as critical infrastructure."),
]


def test_a_question_leaning_on_the_conversation_borrows_the_previous_question() -> None:
    assert (
        resolve_query("Which agency did that?", PREVIOUS)
        == "What did DHS do in January 2017? Which agency did that?"
    )
    assert resolve_query("Why?", PREVIOUS) == "What did DHS do in January 2017? Why?"


def test_a_question_that_stands_alone_is_left_alone() -> None:
    question = "Which council has NASS used to work with the federal government?"
    assert resolve_query(question, PREVIOUS) == question
    assert resolve_query("Why?", []) == "Why?"
    assert (
        resolve_query("  When did NASS write to Facebook?  ", PREVIOUS) == "When did NASS write to Facebook?"
    )


def test_a_question_naming_one_thing_in_question_words_leans_on_the_conversation() -> None:
    """ "What about lists?" after "What can I use as keys in a dictionary?" asks about lists as keys: alone it was
    answered with "An example that uses most of the list methods:"."""
    keys = [Turn("user", "What can I use as keys in a dictionary?")]
    assert (
        resolve_query("What about lists?", keys)
        == "What can I use as keys in a dictionary? What about lists?"
    )
    assert resolve_query("And what should I use instead?", keys).startswith("What can I use as keys")
    assert resolve_query("What about sorting a list in reverse order?", keys) == (
        "What about sorting a list in reverse order?"
    )


def test_a_question_that_opens_by_carrying_on_leans_on_the_conversation() -> None:
    """ "And …", "So …", "What if …" carry on the last exchange, however many words follow: alone, "And state
    legislators?" was refused and "So do they refuse to cooperate …?" read as a question about anyone."""
    governors = [Turn("user", "What role do governors play in election security?")]
    assert resolve_query("And state legislators?", governors) == (
        "What role do governors play in election security? And state legislators?"
    )
    designation = [Turn("user", "Why did NASS object to the designation?")]
    assert resolve_query(
        "So do they refuse to cooperate with the federal government?", designation
    ).startswith("Why did NASS object")
    # words that only start like an opener do not count
    assert (
        resolve_query("Sorting a list in reverse order: how?", governors)
        == "Sorting a list in reverse order: how?"
    )


def test_a_question_pointing_back_with_four_words_of_its_own_leans_on_the_conversation() -> None:
    branches = [Turn("user", "How do I list remote-tracking branches together with my local ones?")]
    question = "How do I clean up the ones that no longer exist on the remote?"
    assert resolve_query(question, branches) == f"{branches[0].content} {question}"
    # more words of its own than four name a topic of their own
    view = "Is it fine to define a view that selects from another view?"
    assert resolve_query(view, branches) == view


def test_a_follow_up_of_a_follow_up_borrows_what_that_one_borrowed() -> None:
    stash = [
        Turn("user", "How do I temporarily put aside my uncommitted changes?"),
        Turn("assistant", "Use git stash push to record the current state of the working directory."),
        Turn("user", "How do I get them back?"),
    ]
    assert resolve_query("What if that gives me conflicts?", stash) == (
        "How do I temporarily put aside my uncommitted changes? How do I get them back? "
        "What if that gives me conflicts?"
    )
    # a question that stands on its own ends the chain
    finally_clause = [
        Turn("user", "How do I handle errors?"),
        Turn("user", "What is the finally clause for?"),
    ]
    assert resolve_query("And if both return something?", finally_clause) == (
        "What is the finally clause for? And if both return something?"
    )
