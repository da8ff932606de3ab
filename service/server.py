"""``citewell serve``: the application under gunicorn's master, each worker an event loop in front of threads.

Each worker process builds the app and loads the model and index once. Its event loop reads requests whole, so
slow clients never hold one of its threads (``service.serving``). SIGTERM drains requests in flight and stops;
SIGHUP replaces the workers gracefully (new ones load the current index); a newly built index is also picked up
without any signal (see ``service.live``). One access-log line per request gives its latency in milliseconds.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping
from typing import Any

import torch
from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter

from ingest.index import current_version
from service.app import create_app
from service.config import DEFAULTS, SERVE_THREADS
from service.serving import BufferedWSGI

# under gunicorn's worker timeout (60 s), which also covers the time a worker takes to boot
WORKER_LOAD_SECONDS = 45


class CitewellServer(BaseApplication):  # type: ignore[misc] # gunicorn is untyped
    """gunicorn running ``create_app(config)`` in ``service.serving.CitewellWorker``s; ``run()`` blocks until
    the server stops. ``threads`` run the app in each worker; a client gets ``header_timeout`` seconds to send a
    request's headers, ``body_timeout`` for its body and ``keepalive_timeout`` between requests.

    Example:
        >>> CitewellServer({"INDEX": ".citewell/index"}, host="127.0.0.1", port=8000).run()
    """

    def __init__(
        self,
        config: Mapping[str, Any],
        *,
        host: str,
        port: int,
        workers: int = 1,
        threads: int = SERVE_THREADS,
        timeout: int = 60,
        header_timeout: float = DEFAULTS["HEADER_TIMEOUT"],
        body_timeout: float = DEFAULTS["BODY_TIMEOUT"],
        keepalive_timeout: float = DEFAULTS["KEEPALIVE_TIMEOUT"],
    ) -> None:
        self.app_config = dict(config)
        self.threads = threads
        self.body_timeout = body_timeout
        self.header_timeout = header_timeout  # these two are read by the worker
        self.keepalive_timeout = keepalive_timeout
        self.options: dict[str, Any] = {
            "bind": f"{host}:{port}",
            "workers": workers,
            "worker_class": "service.serving.CitewellWorker",
            "timeout": timeout,
            "graceful_timeout": 30,
            "accesslog": "-",  # the worker's access-log lines go where gunicorn's would
            "errorlog": "-",
            "when_ready": _announce,
            "worker_exit": _flush_question_log,
            "proc_name": "citewell",
            "control_socket_disable": True,  # one fixed socket path would clash between instances
        }
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        logging.basicConfig(level=logging.INFO, format="[%(process)d] %(levelname)s %(name)s: %(message)s")
        logging.getLogger("bm25s").setLevel(logging.WARNING)
        app = create_app(self.app_config)
        # A worker runs one model call at a time (requests waiting for it join its next batch). Intra-op threads
        # would spin against the HTTP and Python work of the other requests and against other workers, so torch
        # runs single-threaded and more cores serve more workers (README, Benchmarks).
        torch.set_num_threads(int(app.config["TORCH_THREADS"]))
        # A worker accepts requests only once its index is loaded (when there is one to load), so a worker that
        # gunicorn starts to replace a dead one never answers 503 while its siblings could have answered.
        live = app.extensions["citewell"]
        if current_version(live.index_dir) is not None and not live.wait_ready(WORKER_LOAD_SECONDS):
            logging.getLogger(__name__).warning("the index is still loading; accepting requests anyway")
        return BufferedWSGI(
            app,
            threads=self.threads,
            body_timeout=self.body_timeout,
            max_body=app.config["MAX_CONTENT_LENGTH"],
        )


def exposure_warning(host: str, proxy_hops: int) -> str | None:
    """What is wrong with listening on ``host`` while trusting ``proxy_hops`` proxies, or None: a client that
    reaches a public address directly can write X-Forwarded-For itself and pass for anyone."""
    if not proxy_hops:
        return None
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if loopback:
        return None
    return (
        f"PROXY_HOPS is {proxy_hops} but citewell listens on {host}: a client that reaches it without the proxy "
        "can set X-Forwarded-For and escape the rate limits. Behind a proxy, listen on 127.0.0.1."
    )


def _flush_question_log(arbiter: Arbiter, worker: Any) -> None:
    """A worker that stops (SIGTERM, Ctrl+C, a restart) first writes the question-log records still queued: its
    writer thread would die with the process."""
    app = getattr(getattr(worker, "wsgi", None), "app", None)
    question_log = getattr(app, "extensions", {}).get("citewell.questions")
    if question_log is not None and not question_log.flush():
        logging.getLogger(__name__).warning(
            "the question log could not write its last records before exiting"
        )


def _announce(arbiter: Arbiter) -> None:
    for listener in arbiter.LISTENERS:
        host, port = listener.sock.getsockname()[:2]
        shown = "localhost" if host in ("127.0.0.1", "0.0.0.0", "::", "::1") else host
        print(f"citewell is serving at http://{shown}:{port}/ (Ctrl+C stops it)", flush=True)
