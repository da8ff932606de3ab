from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ingest import DEFAULT_MODEL, Embedder, load_index
from service.cli import _parser, main, read_settings
from service.live import LiveAnswerer

from ..conftest import CORPUS


def test_help_lists_subcommands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "ingest" in out and "ask" in out


def test_console_script_is_installed() -> None:
    citewell = Path(sys.executable).parent / "citewell"
    result = subprocess.run([str(citewell), "--help"], capture_output=True, text=True, check=True)
    assert "ingest" in result.stdout


def test_ingest_reports_bad_files_and_succeeds_with_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad.txt").write_bytes(b"\xff\xfe\xfa")
    code = main(["ingest", str(CORPUS), str(tmp_path / "bad.txt"), "--index", str(tmp_path / "index")])
    captured = capsys.readouterr()
    assert code == 0
    assert "indexed 1 documents, 14 passages" in captured.out
    assert f"skipped {tmp_path / 'bad.txt'}: not UTF-8" in captured.err

    assert main(["ask", "Which council does NASS use?", "--index", str(tmp_path / "index")]) == 0
    assert "Election Infrastructure Subsector Government Coordinating Council" in capsys.readouterr().out


def test_the_console_reports_each_skipped_file_once(tmp_path: Path) -> None:
    """The ingest report names each skipped file; the log line of the same problem is not printed beside it."""
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe\xfa")
    citewell = Path(sys.executable).parent / "citewell"
    result = subprocess.run(
        [str(citewell), "ingest", str(CORPUS), str(bad), "--index", str(tmp_path / "index")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stderr.count(f"{bad}: not UTF-8") == 1, result.stderr


def test_every_command_reads_the_settings_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """$CITEWELL_CONFIG is the one configuration path: ask, ingest and eval read their index, model and
    threshold from it, and serve its address, port, workers and threads; options still win."""
    settings = tmp_path / "citewell.toml"
    settings.write_text(
        f'index = "{tmp_path / "from-toml"}"\nmin_score = 0.9\nport = 8765\nworkers = 3\nhost = "0.0.0.0"\n'
    )
    monkeypatch.setenv("CITEWELL_CONFIG", str(settings))
    monkeypatch.setenv("CITEWELL_THREADS", "5")  # the environment over the file, as for the service
    parser = _parser(read_settings())
    serve = parser.parse_args(["serve"])
    assert (serve.host, serve.port, serve.workers, serve.threads) == ("0.0.0.0", 8765, 3, 5)
    ask = parser.parse_args(["ask", "Who?"])
    assert (ask.index, ask.min_score) == (tmp_path / "from-toml", 0.9)
    assert parser.parse_args(["ask", "Who?", "--min-score", "0.5"]).min_score == 0.5
    assert parser.parse_args(["eval", "q.jsonl"]).index == tmp_path / "from-toml"
    assert main(["ask", "Who oversees elections?"]) == 1
    assert str(tmp_path / "from-toml") in capsys.readouterr().err  # the index the file names


def test_a_broken_settings_file_ends_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad.toml").write_text("index = [unclosed\n")
    monkeypatch.setenv("CITEWELL_CONFIG", str(tmp_path / "bad.toml"))
    assert main(["ingest"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("citewell: cannot read the settings file") and "Traceback" not in err


def test_bench_without_its_extra_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import service.measurement

    # forget any earlier import, so that this one runs and meets the missing package
    for name in [name for name in sys.modules if name.startswith("service.measurement.benchmarks")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.delattr(service.measurement, "benchmarks", raising=False)
    monkeypatch.setitem(sys.modules, "requests", None)  # as on a production install, without the bench extra
    assert main(["bench", "ingest"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("citewell: citewell bench needs the bench extra (requests is missing)")
    assert "pip install 'citewell[bench]'" in err and "Traceback" not in err


def test_ingest_warns_about_sources_without_a_web_address_and_base_url_fixes_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "ferry.html").write_text(
        "<html><head><title>Ferry</title><link rel='canonical' href='file:///srv/ferry.html'></head><body><main>"
        "<p>The harbour ferry leaves the north pier every forty minutes.</p></main></body></html>"
    )
    index = tmp_path / "index"
    assert main(["ingest", str(tmp_path / "site"), "--index", str(index)]) == 0
    assert "warning: 1 documents have an address a reader cannot open" in capsys.readouterr().err
    assert (
        main(["ingest", str(tmp_path / "site"), "--index", str(index), "--base-url", "https://d.example/h"])
        == 0
    )
    assert "warning" not in capsys.readouterr().err
    assert load_index(index).documents["ferry"].url == "https://d.example/h/ferry.html"
    assert main(["ingest", str(tmp_path / "site"), "--index", str(index), "--base-url", "docs/"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("citewell: --base-url must be an http(s) address") and "Traceback" not in err


def test_ingest_with_sentence_vectors_stores_them_and_the_service_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], embedder: Embedder
) -> None:
    assert main(["ingest", str(CORPUS), "--sentence-vectors", "--index", str(tmp_path / "index")]) == 0
    assert "14 passages (14 embedded, 0 documents reused), with sentence vectors" in capsys.readouterr().out
    index = load_index(tmp_path / "index")
    assert index.sentence_vectors is not None and index.sentence_vectors.shape[1] == 384
    live = LiveAnswerer(tmp_path / "index", DEFAULT_MODEL, reload_interval=0, embedder=embedder)
    live.start()
    assert live.wait_ready(60) and live.status()["sentence_vectors"] is True
    answer = live.ask("When was election infrastructure designated critical infrastructure?")
    assert "January 6, 2017" in answer.answer
    assert main(["ingest", str(CORPUS), "--index", str(tmp_path / "index")]) == 0  # an update keeps them
    assert "(0 embedded, 1 documents reused), with sentence vectors" in capsys.readouterr().out
    assert load_index(tmp_path / "index").sentence_vectors is not None
    assert main(["ingest", str(CORPUS), "--no-sentence-vectors", "--index", str(tmp_path / "index")]) == 0
    assert "with sentence vectors" not in capsys.readouterr().out
    assert load_index(tmp_path / "index").sentence_vectors is None


def test_ingest_fails_when_nothing_usable_remains(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty.md").write_text("")
    assert main(["ingest", str(tmp_path), "--index", str(tmp_path / "index")]) == 1
    assert "nothing usable to index" in capsys.readouterr().err


def test_ask_without_index_says_what_to_do(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "anything", "--index", str(tmp_path / "none")]) == 1
    assert "citewell ingest" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--weights", "1,2"], "--weights needs three numbers"),
        (["--weights", "a,b,c"], "--weights needs three numbers"),
        (["--max-sentences", "2", "--overlap", "5"], "--max-sentences 2 --overlap 5"),
    ],
)
def test_eval_options_that_cannot_work_end_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str], message: str
) -> None:
    assert main(["eval", str(tmp_path / "squad.json"), *options]) == 1
    err = capsys.readouterr().err
    assert err.startswith("citewell: ") and message in err and "Traceback" not in err


def test_eval_with_one_sentence_windows_shares_none(tmp_path: Path) -> None:
    """--max-sentences 1 alone used to fail: the default overlap of one sentence needs windows of two."""
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"question": "Who oversees elections?", "expect": null}\n')
    index = tmp_path / "index"
    assert main(["ingest", str(CORPUS), "--index", str(index)]) == 0
    assert (
        main(
            [
                "eval",
                str(questions),
                "--index",
                str(index),
                "--max-sentences",
                "1",
                "--output",
                str(tmp_path / "r.json"),
            ]
        )
        == 0
    )
