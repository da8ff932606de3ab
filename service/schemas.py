"""The HTTP contract (``shared/API.md``) as pydantic models: they validate requests and generate the OpenAPI document.

The answer's JSON is ``AskResponse.of(answer, id)``: read from the answering dataclasses by these models, so the
OpenAPI document and the responses are one definition, and the schemathesis tests check every real response
against it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_serializer,
    field_validator,
    model_serializer,
)

from service.answering import Answer

MAX_QUESTION_CHARS = 1000
MAX_HISTORY_TURNS = 20
MAX_TURN_CHARS = 10_000
MAX_COMMENT_CHARS = 1000
MAX_TOP_K = 50
# what the widget must know of these limits to stay inside them (service/templates/widget.js reads them)
CLIENT_LIMITS = {
    "question_chars": MAX_QUESTION_CHARS,
    "history_turns": MAX_HISTORY_TURNS,
    "comment_chars": MAX_COMMENT_CHARS,
}


class Turn(BaseModel):
    """One earlier turn of the conversation."""

    model_config = ConfigDict(strict=True, extra="forbid")

    role: Literal["user", "assistant"]
    content: str = Field(max_length=MAX_TURN_CHARS)


class AskRequest(BaseModel):
    """A question, the conversation so far (oldest first) and how many passages to return."""

    model_config = ConfigDict(
        strict=True,
        extra="forbid",  # a misspelt field ("topk") is an error, not silently the default
        json_schema_extra={
            "examples": [{"question": "When was election infrastructure designated critical infrastructure?"}]
        },
    )

    question: str = Field(
        min_length=1,
        max_length=MAX_QUESTION_CHARS,
        pattern=r"\S",  # not blank: something must be left after trimming
        description="The question, in plain language.",
    )
    history: list[Turn] = Field(
        default_factory=list,
        max_length=MAX_HISTORY_TURNS,
        description="Earlier turns of this conversation, oldest first, to understand follow-up questions.",
    )
    top_k: int = Field(
        default=3, ge=1, le=MAX_TOP_K, strict=False, description="How many passages to return."
    )

    @field_validator("top_k", mode="before")
    @classmethod
    def _a_number(cls, value: object) -> object:
        # JSON Schema counts 3.0 as an integer, so it is accepted; "3" and true are not numbers
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("must be a whole number")
        return value


class HighlightModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    start: int = Field(ge=0, description="Offset inside the passage text where the answering span starts.")
    end: int = Field(ge=0)


class SourceModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    document: str
    title: str
    section: str | None
    url: str | None = Field(description="The original address, or null.")
    start: int = Field(ge=0, description="Offset of the passage in the document text.")
    end: int = Field(ge=0)


class PassageModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    text: str = Field(description="Verbatim: the document's text[source.start:source.end].")
    score: float
    highlights: list[HighlightModel]
    source: SourceModel
    code: list[HighlightModel] = Field(
        description="Ranges of `text` that are code blocks, to be shown in monospace with their line breaks."
    )

    @field_serializer("score")
    def _rounded(self, score: float) -> float:
        return round(score, 4)  # more digits say nothing a reader can use


class AskResponse(BaseModel):
    id: str = Field(description="This answer's id, for POST /api/feedback.")
    answered: bool
    answer: str = Field(description="The highlighted span of passages[0], or '' when not answered.")
    passages: list[PassageModel]
    message: str | None = Field(default=None, description="Why there is no answer, in plain words.")
    topics: list[str] | None = Field(
        default=None,
        description="When not answered: the sections of the nearest passages, best first, to suggest instead.",
    )

    @classmethod
    def of(cls, answer: Answer, answer_id: str) -> AskResponse:
        return cls(
            id=answer_id,
            answered=answer.answered,
            answer=answer.answer,
            passages=[PassageModel.model_validate(passage) for passage in answer.passages],
            message=answer.message,
            topics=None if answer.answered else list(answer.topics),
        )

    @model_serializer(mode="wrap")
    def _only_what_applies(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """``message`` and ``topics`` appear only on a refusal (API.md), not as nulls on every answer."""
        body: dict[str, Any] = handler(self)
        for key in ("message", "topics"):
            if body[key] is None:
                del body[key]
        return body


class FeedbackRequest(BaseModel):
    """A reader's verdict on one answer."""

    model_config = ConfigDict(strict=True, extra="forbid")

    answer_id: str = Field(pattern=r"^[0-9a-f]{32}$", description="The `id` of the /api/ask response.")
    helpful: bool
    comment: str | None = Field(default=None, max_length=MAX_COMMENT_CHARS)


class FeedbackResponse(BaseModel):
    status: Literal["recorded"]


class DocumentPath(BaseModel):
    # an id is the document's relative path without suffix; 300 characters leave URL-encoded ids well under
    # the server's request-line limit
    document: str = Field(min_length=1, max_length=300)


class DocumentResponse(BaseModel):
    document: str
    title: str
    url: str | None
    text: str = Field(description="The whole normalised text that passage offsets refer to.")


class HealthResponse(BaseModel):
    status: Literal["ok"]


class AnswerCacheStats(BaseModel):
    kind: Literal["memory", "redis"] = Field(
        description="Where answers are cached: in this process, or in Redis, shared by every replica."
    )
    hits: int = Field(description="Answers this process took from the cache since it started.")
    misses: int
    errors: int = Field(
        description="Reads and writes of the cache that failed, or were skipped while it could not be reached: "
        "those answers went uncached."
    )


class ReadyResponse(BaseModel):
    status: Literal["ready"]
    documents: int
    passages: int
    version: str
    model: str
    query_precision: Literal["float32", "int8"]
    sentence_vectors: bool = Field(
        description="Whether the index holds sentence vectors (citewell ingest --sentence-vectors), so that "
        "answers read them instead of encoding sentences."
    )
    answer_cache: AnswerCacheStats


class ErrorDetail(BaseModel):
    code: str = Field(
        description="A stable machine-readable code, e.g. bad_request, not_found, rate_limited."
    )
    message: str = Field(description="What went wrong, in plain words.")


class ErrorResponse(BaseModel):
    error: ErrorDetail
