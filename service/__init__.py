"""citewell's answering service: retrieval, answers and the HTTP API over an index built by ``ingest``.

``create_app`` builds the Flask application; ``Answerer`` is the engine the API, the CLI and the evaluation share.
"""

from __future__ import annotations

from service.answering import Answer, Answerer, AnswerSettings
from service.app import create_app
from service.retrieval import RetrievalWeights, Retriever

__all__ = ["Answer", "AnswerSettings", "Answerer", "RetrievalWeights", "Retriever", "create_app"]
