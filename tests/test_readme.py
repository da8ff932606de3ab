"""The README's two commands, exercised as a user would run them."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

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
def test_make_run_on_a_fresh_checkout_builds_the_index_and_answers(tmp_path: Path) -> None:
    checkout = fresh_checkout(tmp_path / "citewell")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "CITEWELL_", "PYTHON"))}
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if ".venv" not in p)
    result = subprocess.run(
        ["make", "run"], cwd=checkout, env=env, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "indexed 1 documents" in result.stdout
    assert "January 6, 2017" in result.stdout
    assert (checkout / ".citewell" / "index" / "CURRENT").exists()
