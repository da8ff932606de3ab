"""The load `citewell bench query` puts on a running service: users asking the benchmark questions back to back.

Run by the benchmark as `locust -f locustfile.py --headless ...`; CITEWELL_BENCH_QUESTIONS names a file with one
question per line.
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


class Asker(FastHttpUser):
    # no think time: each user asks again as soon as its answer arrives (a closed loop of N clients)

    @task
    def ask(self) -> None:
        question = _QUESTIONS[next(_NEXT)]
        with self.client.post("/api/ask", json={"question": question}, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}")
