"""The README's two commands, exercised as a user would run them."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from .conftest import REPO
from .service.conftest import free_port


def quick_start_commands() -> list[str]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", quick_start, re.DOTALL)]


def test_quick_start_is_two_commands_and_ci_runs_the_test_one() -> None:
    assert quick_start_commands() == ["make run", "make test"]
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert [line for line in ci.splitlines() if line.startswith("make")] == ["make test"]


def fresh_checkout(target: Path) -> Path:
    """What a clean clone would hold: tracked files plus new files git does not ignore (no .venv, no index)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


@pytest.mark.slow
def test_make_run_on_a_fresh_checkout_builds_the_index_and_serves_answers(tmp_path: Path) -> None:
    checkout = fresh_checkout(tmp_path / "citewell")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "CITEWELL_", "PYTHON"))}
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if ".venv" not in p)
    log_path = tmp_path / "make-run.log"
    with log_path.open("w") as log:
        make = subprocess.Popen(
            ["make", "run", f"PORT={free_port()}"],
            cwd=checkout,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # so the whole tree (make, gunicorn, its workers) can be stopped at once
        )
    try:
        address = wait_for_address(make, log_path, timeout=900)
        output = log_path.read_text()
        assert "indexed 1 documents" in output
        assert (checkout / ".citewell" / "index" / "CURRENT").exists()
        answer = ask_when_ready(
            address, "When was election infrastructure designated critical infrastructure?"
        )
        assert answer["answered"] is True
        assert "January 6, 2017" in answer["answer"]
    finally:
        os.killpg(make.pid, signal.SIGTERM)
        make.wait(60)


def wait_for_address(process: subprocess.Popen[str], log_path: Path, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.search(r"serving at (http://\S+/)", log_path.read_text())
        if found:
            return found.group(1)
        if process.poll() is not None:
            raise AssertionError(f"make run stopped ({process.returncode}):\n{log_path.read_text()[-3000:]}")
        time.sleep(0.5)
    raise AssertionError(f"make run printed no address:\n{log_path.read_text()[-3000:]}")


def ask_when_ready(address: str, question: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while True:
        try:
            if requests.get(address + "api/ready", timeout=5).status_code == 200:
                break
        except (requests.ConnectionError, requests.Timeout):
            pass  # the worker is still loading the index
        assert time.monotonic() < deadline, "never ready"
        time.sleep(0.5)
    response = requests.post(address + "api/ask", json={"question": question}, timeout=30)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
