"""The README's two commands, exercised as a user would run them."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from service.measurement.benchmarks.harness import Served, free_port

from .conftest import REPO


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
    port = free_port()
    # the whole set-up runs first: a virtual environment, the install, the index
    make_run = Served(
        ["make", "run", f"PORT={port}"],
        port,
        env=env,
        log_path=tmp_path / "make-run.log",
        cwd=checkout,
        own_group=True,
        ready_timeout=900,
    )
    with make_run:
        output = make_run.log()
        assert f"serving at http://localhost:{port}/" in output
        assert "indexed 1 documents" in output
        assert (checkout / ".citewell" / "index" / "CURRENT").exists()
        response = make_run.ask("When was election infrastructure designated critical infrastructure?")
        assert response.status_code == 200, response.text
        assert response.json()["answered"] is True
        assert "January 6, 2017" in response.json()["answer"]
