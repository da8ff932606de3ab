"""The load `citewell bench query` puts on a running service: users asking the benchmark questions back to back.

Run by the benchmark as `locust -f locustfile.py --headless ...`; CITEWELL_BENCH_QUESTIONS names a file with one
question per line; CITEWELL_BENCH_REPLICAS, when set, the replicas' URLs (comma-separated), which requests take in
turn, each replica's named by its URL in the statistics.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

from locust import FastHttpUser, task

_QUESTIONS = [
    line.strip()
    for line in Path(os.environ["CITEWELL_BENCH_QUESTIONS"]).read_text(encoding="utf-8").splitlines()
    if line.strip()
]
_NEXT = itertools.cycle(range(len(_QUESTIONS)))
# "" is the --host itself
_REPLICAS = itertools.cycle(os.environ.get("CITEWELL_BENCH_REPLICAS", "").split(","))


class Asker(FastHttpUser):
    # no think time: each user asks again as soon as its answer arrives (a closed loop of N clients)

    @task
    def ask(self) -> None:
        question = _QUESTIONS[next(_NEXT)]
        url = next(_REPLICAS) + "/api/ask"
        with self.client.post(url, name=url, json={"question": question}, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}")
