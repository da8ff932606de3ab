"""Settings in layers: defaults → TOML file ($CITEWELL_CONFIG) → CITEWELL_* environment → overrides."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Config

from service.config import DEFAULTS, load_config
from service.errors import ConfigError


def loaded(overrides: dict[str, object] | None = None) -> Config:
    config = Config(".")
    load_config(config, overrides)
    return config


def test_defaults() -> None:
    config = loaded()
    assert {key: config[key] for key in DEFAULTS} == DEFAULTS
    assert config["CORS_ORIGINS"] == "*"


def test_file_then_environment_then_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = tmp_path / "citewell.toml"
    settings.write_text(
        'index = "/srv/index"\nrate_limit = "10/minute"\nCORS_ORIGINS = ["https://a.example/", "https://b.example"]\n'
        "reload_interval = 5\n"
    )
    monkeypatch.setenv("CITEWELL_CONFIG", str(settings))
    monkeypatch.setenv("CITEWELL_RATE_LIMIT", "20/minute")
    monkeypatch.setenv("CITEWELL_API_KEYS", "one, two")
    monkeypatch.setenv("CITEWELL_MAX_CONTENT_LENGTH", "1024")
    config = loaded({"INDEX": "/override"})
    assert config["INDEX"] == "/override"
    assert config["RATE_LIMIT"] == "20/minute"
    assert config["RELOAD_INTERVAL"] == 5
    assert config["CORS_ORIGINS"] == ["https://a.example", "https://b.example"]
    assert config["API_KEYS"] == ["one", "two"]
    assert config["MAX_CONTENT_LENGTH"] == 1024  # JSON-parsed from the environment


@pytest.mark.parametrize("content", [None, "index = [unclosed"])
def test_an_unreadable_settings_file_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str | None
) -> None:
    settings = tmp_path / "citewell.toml"
    if content is not None:
        settings.write_text(content)
    monkeypatch.setenv("CITEWELL_CONFIG", str(settings))
    with pytest.raises(ConfigError, match=r"cannot read the settings file .*citewell\.toml"):
        loaded()


def test_an_unknown_query_precision_is_refused_at_start() -> None:
    assert loaded({"QUERY_PRECISION": "int8"})["QUERY_PRECISION"] == "int8"
    with pytest.raises(ConfigError, match="QUERY_PRECISION must be one of float32, int8, not 'fp8'"):
        loaded({"QUERY_PRECISION": "fp8"})


def test_trusting_a_proxy_on_a_public_address_is_warned_about() -> None:
    from service.server import exposure_warning

    assert exposure_warning("0.0.0.0", 0) is None  # no proxy trusted: nothing to spoof
    assert exposure_warning("127.0.0.1", 1) is None and exposure_warning("localhost", 1) is None
    assert exposure_warning("::1", 2) is None
    warning = exposure_warning("0.0.0.0", 1)
    assert warning is not None and "X-Forwarded-For" in warning and "127.0.0.1" in warning
    assert exposure_warning("citewell.example.org", 1) is not None
