"""The `citewell` command: a thin layer over the functions the tests call directly."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ingest import DEFAULT_MODEL, Embedder, IngestError, ingest_paths, load_index

logger = logging.getLogger("citewell")

DEFAULT_INDEX = ".citewell/index"


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s"
    )
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        return int(args.run(args))
    except IngestError as exc:
        print(f"citewell: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("citewell: interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    env = os.environ
    parser = argparse.ArgumentParser(
        prog="citewell", description="Answers questions with verbatim, cited quotes from your documents."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    def with_index(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--index",
            type=Path,
            default=Path(env.get("CITEWELL_INDEX", DEFAULT_INDEX)),
            help="index directory (default: $CITEWELL_INDEX or %(default)s)",
        )
        sub.add_argument(
            "--model",
            default=env.get("CITEWELL_MODEL", DEFAULT_MODEL),
            help="sentence-transformers model name or folder (default: $CITEWELL_MODEL or %(default)s)",
        )

    ingest = commands.add_parser("ingest", help="build or update the index from documents")
    ingest.add_argument("paths", nargs="*", type=Path, default=[Path("corpus")], help="files and folders")
    with_index(ingest)
    ingest.set_defaults(run=_ingest)

    ask = commands.add_parser("ask", help="answer one question from the command line")
    ask.add_argument("question")
    ask.add_argument("--top-k", type=int, default=3)
    with_index(ask)
    ask.set_defaults(run=_ask)
    return parser


def _ingest(args: argparse.Namespace) -> int:
    embedder = Embedder(args.model)
    report = ingest_paths(args.paths, args.index, embedder=embedder, progress=sys.stderr.isatty())
    for problem in report.problems:
        print(f"skipped {problem}", file=sys.stderr)
    print(
        f"indexed {report.documents} documents, {report.passages} passages "
        f"({report.embedded_passages} embedded, {report.reused_documents} documents reused"
        f"{', ' + str(len(report.removed_documents)) + ' removed' if report.removed_documents else ''}) "
        f"in {report.seconds:.1f}s -> {report.version_dir}"
    )
    return 0


def _ask(args: argparse.Namespace) -> int:
    embedder = Embedder(args.model)
    index = load_index(args.index, model=args.model)
    hits = index.search(embedder.encode([args.question]), args.top_k)[0]
    for rank, hit in enumerate(hits, start=1):
        passage = index.passages[hit.passage]
        document = index.documents[passage.document]
        print(f"[{rank}] {passage.text}")
        print(f"    — {document.title}, {passage.section or ''} ({hit.score:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
