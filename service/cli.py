"""The `citewell` command: a thin layer over the functions the tests call directly."""

from __future__ import annotations

import argparse
import contextlib
import logging
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from flask import Config

from ingest import PRECISIONS, ChunkingConfig, Embedder, IngestError, ingest_paths
from ingest.crawl import CrawlOptions, is_url
from ingest.embedding import Encoder
from ingest.execution import IN_PROCESS, Executor
from ingest.vector_search import KINDS
from service.answering import Answer, Answerer, AnswerSettings
from service.config import load_config
from service.errors import ConfigError
from service.retrieval import RetrievalWeights

if TYPE_CHECKING:
    from ingest.cluster import RayWorkers

logger = logging.getLogger("citewell")


def main(argv: Sequence[str] | None = None) -> int:
    try:
        settings = read_settings()
    except ConfigError as exc:
        print(f"citewell: {exc}", file=sys.stderr)
        return 1
    parser = _parser(settings)
    args = parser.parse_args(argv)
    logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs its own debug lines otherwise
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s"
    )
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        return int(args.run(args))
    except (IngestError, ConfigError) as exc:
        print(f"citewell: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("citewell: interrupted", file=sys.stderr)
        return 130


def read_settings() -> Config:
    """The settings every command starts from, the service's one configuration path (``service.config``):
    defaults, the TOML file of $CITEWELL_CONFIG, CITEWELL_* variables; command-line options override them."""
    settings = Config(".")
    load_config(settings)
    return settings


def _parser(settings: Config) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="citewell", description="Answers questions with verbatim, cited quotes from your documents."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    min_score = float(AnswerSettings().min_score if settings["MIN_SCORE"] is None else settings["MIN_SCORE"])
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    def with_index(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--index",
            type=Path,
            default=Path(settings["INDEX"]),
            help="index directory (default: INDEX of the settings, %(default)s)",
        )
        sub.add_argument(
            "--model",
            default=settings["MODEL"],
            help="sentence-transformers model name or folder (default: MODEL of the settings, %(default)s)",
        )

    def with_ray(sub: argparse.ArgumentParser, what: str) -> None:
        sub.add_argument(
            "--ray",
            nargs="?",
            const="local",
            type=_ray_address,
            metavar="ADDRESS",
            help=f"{what}: alone, a cluster started on this machine; 'auto' joins the one running here "
            "(`ray start`), HOST:PORT or ray://HOST:PORT another (needs the cluster extra: "
            "pip install 'citewell[cluster]')",
        )

    def with_sentence_vectors(sub: argparse.ArgumentParser, which: str) -> None:
        sub.add_argument(
            "--sentence-vectors",
            action="store_true",
            help=f"{which}also embed every sentence at ingest, so that answers in a large collection need not "
            "encode the sentences they score: about 1.7x the ingest time and 768 bytes per sentence on disk",
        )

    ingest = commands.add_parser("ingest", help="build or update the index from documents or web sites")
    ingest.add_argument(
        "paths",
        nargs="*",
        default=["corpus"],
        help="files and folders, and web addresses to crawl (a site's start page or its sitemap.xml)",
    )
    ingest.add_argument(
        "--max-pages",
        type=int,
        default=CrawlOptions.max_pages,
        help="crawl: at most this many pages (default: %(default)s)",
    )
    ingest.add_argument(
        "--max-depth",
        type=int,
        default=CrawlOptions.max_depth,
        help="crawl: links followed from a start page at most this deep (default: %(default)s)",
    )
    ingest.add_argument(
        "--include",
        action="append",
        default=[],
        metavar="REGEX",
        help="crawl: also follow URLs that match (repeatable)",
    )
    ingest.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="REGEX",
        help="crawl: never follow URLs that match (repeatable)",
    )
    ingest.add_argument(
        "--vector-index",
        choices=KINDS,
        default="auto",
        help="FAISS index: exact (flat) up to 50,000 passages, IVF with 8-bit codes above (auto); ivf-pq is "
        "the compressed one for the largest collections (default: %(default)s)",
    )
    ingest.add_argument(
        "--sentence-vectors",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also embed every sentence, so that answers in a large collection need not encode the sentences "
        "they score: about 1.7x the ingest time and 768 bytes per sentence on disk (default: on when the index "
        "being updated has them or the collection holds 100,000 passages or more)",
    )
    ingest.add_argument(
        "--base-url",
        help="where these folders are published (e.g. https://docs.example.org/): each file's source links to "
        "its page there, instead of to a file:// address a reader cannot open",
    )
    with_ray(ingest, "load, chunk and embed on a Ray cluster")
    with_index(ingest)
    ingest.set_defaults(run=_ingest)

    def with_answering(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--min-score",
            type=float,
            default=min_score,
            help="refuse when the best sentence's cosine to the question is below this (default: MIN_SCORE "
            "of the settings, %(default)s)",
        )
        sub.add_argument(
            "--query-precision",
            choices=PRECISIONS,
            default=settings["QUERY_PRECISION"],
            help="encode questions at this precision; passages stay float32 (default: QUERY_PRECISION of the "
            "settings, %(default)s)",
        )

    ask = commands.add_parser("ask", help="answer one question from the command line")
    ask.add_argument("question")
    ask.add_argument("--top-k", type=int, default=3)
    with_answering(ask)
    with_index(ask)
    ask.set_defaults(run=_ask)

    serve = commands.add_parser(
        "serve",
        help="serve the HTTP API and the chat widget",
        description="Runs the web service under gunicorn: in each worker process an event loop reads requests "
        "whole, then one of its threads answers them. Settings come from service.config: defaults, the TOML "
        "file named by $CITEWELL_CONFIG, CITEWELL_* variables, then these options.",
    )
    serve.add_argument("--index", type=Path, help=f"index directory (default: {settings['INDEX']})")
    serve.add_argument("--host", default=str(settings["HOST"]), help="default: %(default)s")
    serve.add_argument("--port", type=int, default=int(settings["PORT"]), help="default: %(default)s")
    serve.add_argument(
        "--workers", type=int, default=int(settings["WORKERS"]), help="processes (default: %(default)s)"
    )
    serve.add_argument(
        "--threads", type=int, default=int(settings["THREADS"]), help="per process (default: %(default)s)"
    )
    serve.add_argument(
        "--header-timeout",
        type=float,
        default=float(settings["HEADER_TIMEOUT"]),
        help="seconds a client has to send a request's headers (default: %(default)s)",
    )
    serve.add_argument(
        "--body-timeout",
        type=float,
        default=float(settings["BODY_TIMEOUT"]),
        help="seconds a client has to send a request's body, once its headers are in (default: %(default)s)",
    )
    serve.add_argument(
        "--keepalive-timeout",
        type=float,
        default=float(settings["KEEPALIVE_TIMEOUT"]),
        help="seconds an idle connection is kept open for a next request (default: %(default)s)",
    )
    serve.set_defaults(run=_serve)

    bench = commands.add_parser(
        "bench",
        help="measure speed against the bare model cost",
        description="query: HTTP latency and throughput (locust) against bare encode+search; ingest: passages/s "
        "against bare encoding (with --ray, also on a Ray cluster against the single-process build); scale: the "
        "vector index at 100k-1M passages against exact search; soak: a sustained run with an index swap; "
        "answers: whole answers from N passages (the index's documents repeated) against one document. Figures "
        "print side by side, with their ratios.",
    )
    bench.add_argument(
        "what", choices=["query", "ingest", "crawl", "scale", "soak", "answers", "slow-clients"]
    )
    bench.add_argument(
        "--pages", type=int, default=200, help="crawl: how many pages of the folder (default: %(default)s)"
    )
    bench.add_argument(
        "paths",
        nargs="*",
        type=Path,
        default=[Path("corpus")],
        help="ingest: files and folders; crawl: a folder of HTML pages",
    )
    bench.add_argument("--index", type=Path, default=Path(settings["INDEX"]))
    bench.add_argument(
        "--questions", type=Path, help="query: a .jsonl question file or one question per line"
    )
    bench.add_argument("--clients", default="1,4,16", help="query: concurrent clients (default: %(default)s)")
    bench.add_argument(
        "--seconds", type=float, default=30, help="query: per client count (default: %(default)s)"
    )
    bench.add_argument(
        "--counts", default="100000,1000000", help="scale, answers: collection sizes (default: %(default)s)"
    )
    bench.add_argument("--vector-index", default="auto", help="scale, answers: the index kind to measure")
    bench.add_argument(
        "--query-precision",
        choices=PRECISIONS,
        default="float32",
        help="query, answers: the question encoder's precision",
    )
    with_sentence_vectors(bench, "ingest, answers: ")
    bench.add_argument(
        "--slow",
        type=int,
        default=200,
        help="slow-clients: slow connections held open (default: %(default)s)",
    )
    bench.add_argument(
        "--requests",
        type=int,
        default=300,
        help="slow-clients: a normal client's requests in each phase (default: %(default)s)",
    )
    bench.add_argument(
        "--replicas",
        type=int,
        default=1,
        help="soak: `citewell serve` processes over the one index, asked in turn (default: %(default)s)",
    )
    with_ray(bench, "ingest: also build on a Ray cluster, with 1 and 2 embedding actors")
    bench.add_argument("--workers", type=int, default=1)
    bench.add_argument("--threads", type=int, default=int(settings["THREADS"]))
    bench.add_argument(
        "--torch-threads",
        type=int,
        default=1,
        help="query: torch threads in each worker and in the bare figures (default: %(default)s, as TORCH_THREADS)",
    )
    bench.set_defaults(run=_bench)

    evaluate = commands.add_parser(
        "eval",
        help="measure retrieval and answers",
        description="A .jsonl question file (against --index), a BEIR folder (corpus.jsonl, queries.jsonl, "
        "qrels/SPLIT.tsv) or a SQuAD .json file; prints a table and writes JSON.",
    )
    evaluate.add_argument("source", type=Path)
    evaluate.add_argument("--split", default="test", help="BEIR qrels split (default: %(default)s)")
    evaluate.add_argument("--limit", type=int, help="sample this many questions (fixed seed)")
    evaluate.add_argument("--seed", type=int, default=13)
    evaluate.add_argument("--output", type=Path, help="JSON report path (default: eval-results/NAME.json)")
    evaluate.add_argument(
        "--cache",
        type=Path,
        default=Path(settings["EVAL_CACHE"] or Path.home() / ".cache" / "citewell" / "eval"),
        help="where benchmark corpora are indexed (default: %(default)s)",
    )
    evaluate.add_argument("--weights", help="fusion weights dense,lexical,document (e.g. 0.6,0.3,0.1)")
    evaluate.add_argument("--max-sentences", type=int, help="passage window, in sentences")
    evaluate.add_argument("--overlap", type=int, help="sentences shared by neighbouring windows")
    evaluate.add_argument(
        "--calibrate",
        type=Path,
        action="append",
        default=[],
        metavar="SOURCE",
        help="with a question file: also ask these questions (a .jsonl question file, or a BEIR folder or "
        "SQuAD file, whose questions count as unanswerable; --limit samples each) and report the refusal "
        "trade-off and a calibrated --min-score",
    )
    with_sentence_vectors(evaluate, "SQuAD: ")
    with_answering(evaluate)
    with_index(evaluate)
    evaluate.set_defaults(run=_eval)

    calibrate = commands.add_parser(
        "calibrate",
        help="choose the refusal threshold for several collections at once",
        description="Reads the JSON reports of `citewell eval` on question files and SQuAD 2.0 files (each "
        "against its own collection) and prints, per collection, the false- and correct-refusal rates at "
        "--min-score and at the threshold that does best on all of them together.",
    )
    calibrate.add_argument("reports", type=Path, nargs="+", metavar="REPORT")
    calibrate.add_argument(
        "--min-score",
        type=float,
        default=min_score,
        help="the threshold to compare with (default: MIN_SCORE of the settings, %(default)s)",
    )
    calibrate.set_defaults(run=_calibrate)
    return parser


def _ingest(args: argparse.Namespace) -> int:
    base_url = args.base_url
    if base_url is not None:
        if urlsplit(base_url).scheme not in ("http", "https") or not urlsplit(base_url).netloc:
            raise ConfigError(
                f"--base-url must be an http(s) address such as https://docs.example.org/, not {base_url!r}"
            )
        base_url = base_url if base_url.endswith("/") else base_url + "/"  # a folder: its pages go under it
    urls = [source for source in args.paths if is_url(source)]
    paths = [Path(source) for source in args.paths if not is_url(source)]
    try:
        crawl = CrawlOptions(
            max_pages=args.max_pages,
            max_depth=args.max_depth,
            include=tuple(args.include),
            exclude=tuple(args.exclude),
        )
    except re.error as exc:
        raise ConfigError(f"--include/--exclude: not a regular expression ({exc})") from exc
    with contextlib.ExitStack() as stack:
        if args.ray is None:
            embedder: Encoder = Embedder(args.model)
            executor: Executor = IN_PROCESS
        else:
            workers = stack.enter_context(ray_workers_class()(args.ray, model=args.model))
            embedder = executor = workers
        report = ingest_paths(
            paths,
            args.index,
            embedder=embedder,
            executor=executor,
            progress=sys.stderr.isatty(),
            vector_index=args.vector_index,
            sentence_vectors=args.sentence_vectors,
            base_url=base_url,
            urls=urls,
            crawl=crawl,
        )
    if report.crawl_summary:
        print(report.crawl_summary, file=sys.stderr)
    for problem in report.problems:
        print(f"skipped {problem}", file=sys.stderr)
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(
        f"indexed {report.documents} documents, {report.passages} passages "
        f"({report.embedded_passages} embedded, {report.reused_documents} documents reused"
        f"{', ' + str(len(report.removed_documents)) + ' removed' if report.removed_documents else ''})"
        f"{', with sentence vectors' if report.sentence_vectors else ''} "
        f"in {report.seconds:.1f}s -> {report.version_dir}"
    )
    return 0


def _ray_address(value: str) -> str:
    """An address for ``ray.init``; a path taken for one (``--ray docs/``) is refused, not sent to Ray."""
    if not re.fullmatch(r"local|auto|(ray://)?[\w.\-]+:\d+", value):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a Ray address (auto, HOST:PORT or ray://HOST:PORT); put the paths before --ray"
        )
    return value


def ray_workers_class() -> type[RayWorkers]:
    """``ingest.cluster.RayWorkers``, imported only for --ray: without it, citewell never imports Ray."""
    try:
        from ingest.cluster import RayWorkers
    except ImportError as exc:
        if exc.name is None or exc.name.partition(".")[0] != "ray":
            raise
        raise ConfigError("--ray needs Ray, in the cluster extra: pip install 'citewell[cluster]'") from exc
    return RayWorkers


def _ask(args: argparse.Namespace) -> int:
    answerer = Answerer.open(
        args.index,
        model=args.model,
        precision=args.query_precision,
        settings=AnswerSettings(min_score=args.min_score),
    )
    print(format_answer(answerer.ask(args.question, top_k=args.top_k)))
    return 0


def _serve(args: argparse.Namespace) -> int:
    from service.server import CitewellServer, exposure_warning

    overrides = {"INDEX": str(args.index)} if args.index else {}
    settings = Config(".")
    load_config(settings, overrides)  # a broken settings file stops here, in one line, not in every worker
    warning = exposure_warning(args.host, int(settings["PROXY_HOPS"]))
    if warning:
        print(f"citewell: warning: {warning}", file=sys.stderr)
    CitewellServer(
        overrides,
        host=args.host,
        port=args.port,
        workers=args.workers,
        threads=args.threads,
        header_timeout=args.header_timeout,
        body_timeout=args.body_timeout,
        keepalive_timeout=args.keepalive_timeout,
    ).run()
    return 0


def _bench(args: argparse.Namespace) -> int:
    import json

    try:
        import service.measurement.benchmarks.harness  # noqa: F401 # needs the bench extra's requests
    except ImportError as exc:  # a production install has no load-testing tools
        raise ConfigError(
            f"citewell bench needs the bench extra ({exc.name} is missing): pip install 'citewell[bench]'"
        ) from exc

    if args.what == "ingest":
        if args.ray is not None:
            ray_workers_class()  # a missing Ray is one line now, not a traceback after the first builds
        from service.measurement.benchmarks.ingest import bench_ingest, format_ingest

        ingest = bench_ingest(args.paths, sentence_vectors=args.sentence_vectors, ray_address=args.ray)
        print(format_ingest(ingest))
        return 0
    if args.what == "crawl":
        from service.measurement.benchmarks.crawl import bench_crawl, format_crawl

        crawled = bench_crawl(args.paths[0], args.pages)
        print(format_crawl(crawled))
        print(json.dumps(crawled))
        return 0
    if args.what == "slow-clients":
        from service.measurement.benchmarks.slow import bench_slow_clients, format_slow_clients

        slow = bench_slow_clients(
            args.index, _bench_questions(args.questions), slow=args.slow, requests_count=args.requests
        )
        print(format_slow_clients(slow))
        print(json.dumps(slow))
        return 0
    if args.what == "soak":
        from service.measurement.benchmarks.soak import bench_soak, format_soak

        soak = bench_soak(
            args.paths,
            seconds=args.seconds,
            clients=8,
            questions=_bench_questions(args.questions),
            replicas=args.replicas,
        )
        print(format_soak(soak))
        print(json.dumps(soak))
        return 0
    if args.what == "answers":
        from service.measurement.benchmarks.answers import bench_answers, format_answers

        questions = _bench_questions(args.questions)
        counts = [int(n) for n in args.counts.split(",")]
        for answers in bench_answers(
            args.index, counts, questions, kind=args.vector_index, precision=args.query_precision,
            sentence_vectors=args.sentence_vectors,
        ):  # fmt: skip
            print(format_answers(answers))
            print(json.dumps(answers))
        return 0
    if args.what == "scale":
        from service.measurement.benchmarks.scale import bench_scale, format_scale

        counts = [int(n) for n in args.counts.split(",")]
        scale = bench_scale(args.index, counts, kind=args.vector_index)
        print(format_scale(scale))
        print(json.dumps(scale))
        return 0
    from service.measurement.benchmarks.query import bench_query, format_query

    questions = _bench_questions(args.questions)
    result = bench_query(
        args.index,
        questions,
        clients=[int(n) for n in args.clients.split(",")],
        seconds=args.seconds,
        workers=args.workers,
        threads=args.threads,
        precision=args.query_precision,
        torch_threads=args.torch_threads,
    )
    print(format_query(result))
    print(json.dumps(result))
    return 0


def _bench_questions(path: Path | None) -> list[str]:
    import json

    if path is None:
        return [
            "When was election infrastructure designated critical infrastructure?",
            "Who oversees elections in the U.S.?",
            "Is the voting process centralized?",
            "What is the EIS-GCC used for?",
            "What is the boiling point of water?",
        ]
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if path.suffix == ".jsonl":  # a question file, or BEIR queries.jsonl
        return [str(record.get("question") or record["text"]) for record in map(json.loads, lines)]
    return lines


def format_answer(answer: Answer) -> str:
    """An answer for a terminal: the quote, then each passage with its highlight in [[...]] and its source."""
    lines = [f"> {answer.answer}" if answer.answered else f"(no answer) {answer.message}", ""]
    for rank, passage in enumerate(answer.passages, start=1):
        text = passage.text
        for highlight in reversed(passage.highlights):
            text = (
                f"{text[: highlight.start]}[[{text[highlight.start : highlight.end]}]]{text[highlight.end :]}"
            )
        source = passage.source
        where = " — ".join(part for part in (source.title, source.section) if part)
        lines.append(f"[{rank}] {text}")
        lines.append(f"    {where}, characters {source.start}-{source.end} (score {passage.score:.2f})")
        if source.url:
            lines.append(f"    {source.url}")
    return "\n".join(lines)


def _eval(args: argparse.Namespace) -> int:
    import json

    from service.measurement import quality

    embedder = Embedder(args.model)
    question_embedder = embedder  # passages are always encoded at float32; questions may be int8
    if args.query_precision != embedder.precision:
        question_embedder = Embedder(args.model, precision=args.query_precision)
    weights = RetrievalWeights()
    if args.weights:
        try:
            dense, lexical, document = (float(w) for w in args.weights.split(","))
        except ValueError as exc:
            raise ConfigError(
                f"--weights needs three numbers, dense,lexical,document: {args.weights!r}"
            ) from exc
        weights = RetrievalWeights(dense=dense, lexical=lexical, document=document)
    chunking = ChunkingConfig()
    if args.max_sentences or args.overlap is not None:
        max_sentences = args.max_sentences or chunking.max_sentences
        # a window of one sentence cannot share one with its neighbour
        overlap = min(chunking.overlap_sentences, max_sentences - 1) if args.overlap is None else args.overlap
        try:
            chunking = ChunkingConfig(max_sentences=max_sentences, overlap_sentences=overlap)
        except ValueError as exc:
            raise ConfigError(f"--max-sentences {max_sentences} --overlap {overlap}: {exc}") from exc
    source: Path = args.source
    if source.is_dir():
        report = quality.evaluate_beir(
            source, args.split, embedder, weights=weights, chunking=chunking, cache_dir=args.cache,
            limit=args.limit, seed=args.seed, query_embedder=question_embedder,
        )  # fmt: skip
    elif source.suffix == ".json":
        report = quality.evaluate_squad(
            source, embedder, weights=weights, chunking=chunking, settings=AnswerSettings(min_score=args.min_score),
            cache_dir=args.cache, limit=args.limit, seed=args.seed, query_embedder=question_embedder,
            sentence_vectors=args.sentence_vectors,
        )  # fmt: skip
    else:
        answerer = Answerer.open(
            args.index,
            settings=AnswerSettings(min_score=args.min_score),
            weights=weights,
            embedder=question_embedder,
        )
        report = quality.evaluate_questions(
            source, answerer, calibrate=args.calibrate, limit=args.limit, seed=args.seed
        )
    print(quality.format_report(report))
    output: Path = args.output or Path("eval-results") / f"{source.stem or source.name}-{report['kind']}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=1), encoding="utf-8")
    print(f"report written to {output}")
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    import json

    from service.measurement import calibration

    reports = []
    for path in args.reports:
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{path}: not a readable eval report ({exc})") from exc
        if "confidences" not in report:
            raise ConfigError(
                f"{path}: has no confidences (a report of `citewell eval` on questions or SQuAD)"
            )
        reports.append(report)
    result = calibration.refusal_across(reports, args.min_score)
    print(f"{'collection':<48} {'at --min-score':>20} {'at calibrated':>20}")
    for collection in result["collections"]:
        cells = [_refusal_rates(collection[key]) for key in ("at_current", "at_threshold")]
        print(f"{collection['source'][-48:]:<48} {cells[0]:>20} {cells[1]:>20}")
    print(f"(false refusals / correct refusals)  --min-score {result['current']}: balanced accuracy "
          f"{result['current_balanced_accuracy']}; calibrated min_score {result['threshold']}: "
          f"{result['balanced_accuracy']}")  # fmt: skip
    return 0


def _refusal_rates(rates: dict[str, float | None]) -> str:
    return " / ".join("-" if rate is None else f"{rate:.3f}" for rate in rates.values())


if __name__ == "__main__":
    sys.exit(main())
