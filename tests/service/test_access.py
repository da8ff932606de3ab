"""Who may ask and how much, in process (Flask's test client): keys, keyless origins, /admin passwords."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from ingest import Embedder
from service import create_app
from service.errors import ConfigError

from .conftest import ADMIN_TOKEN, ready_client

QUESTION = {"question": "Who oversees elections?"}


def test_a_forged_origin_gets_only_the_keyless_budget(corpus_index_dir: Path, embedder: Embedder) -> None:
    """An Origin header is not authentication: a script that names the service's own address is answered
    without a key, like the service's own pages, but only within KEYLESS_RATE_LIMIT, which requests refused for
    want of a key share (so guessing keys is limited too); keyed clients are not charged to that budget."""
    client = ready_client(
        corpus_index_dir,
        embedder,
        API_KEYS="key-alpha",
        KEYLESS_ORIGINS="https://widget.example",
        KEYLESS_RATE_LIMIT="3/minute",
        RATE_LIMIT="1000/minute",
    )
    assert client.post("/api/ask", json=QUESTION).status_code == 401
    forged = {"Origin": "http://localhost"}  # the test client's own address, as a script can claim it
    statuses = [client.post("/api/ask", json=QUESTION, headers=forged).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    widget = {"Origin": "https://widget.example"}  # the same budget: it is per address, not per origin
    assert client.post("/api/ask", json=QUESTION, headers=widget).status_code == 429
    keyed = {"Authorization": "Bearer key-alpha"}
    assert [client.post("/api/ask", json=QUESTION, headers=keyed).status_code for _ in range(3)] == [200] * 3


def test_admin_locks_out_an_address_after_ten_wrong_passwords(
    corpus_index_dir: Path, embedder: Embedder, tmp_path: Path
) -> None:
    client = ready_client(
        corpus_index_dir, embedder, ADMIN_TOKEN=ADMIN_TOKEN, QUESTION_LOG=f"sqlite:///{tmp_path / 'q.db'}"
    )
    good = ("owner", ADMIN_TOKEN)
    assert client.get("/admin", auth=good).status_code == 200
    wrong = [client.get("/admin", auth=("owner", f"guess-{n}")).status_code for n in range(11)]
    assert wrong == [401] * 10 + [429]
    assert (
        client.get("/admin", auth=good).status_code == 429
    )  # locked out for the minute, even with the token


@pytest.mark.parametrize("token", ["short", "x" * 23])
def test_a_short_admin_token_refuses_to_start(corpus_index_dir: Path, token: str) -> None:
    with pytest.raises(ConfigError, match="at least 24 characters"):
        create_app({"INDEX": str(corpus_index_dir), "ADMIN_TOKEN": token})


def test_workers_share_one_rate_limit_through_redis(
    corpus_index_dir: Path, embedder: Embedder, redis_url: str
) -> None:
    """Two app instances (two workers, or two machines) with RATE_LIMIT_STORAGE_URI on one redis: a client's
    requests count once, wherever they land."""
    settings = {"RATE_LIMIT": "3/minute", "RATE_LIMIT_STORAGE_URI": redis_url}
    first, second = (
        ready_client(corpus_index_dir, embedder, **settings),
        ready_client(corpus_index_dir, embedder, **settings),
    )
    statuses = [
        client.post("/api/ask", json=QUESTION).status_code for client in (first, second, first, second)
    ]
    assert statuses == [200, 200, 200, 429]
    with redis.Redis.from_url(redis_url) as client:
        assert any(key.startswith(b"LIMITS") for key in client.scan_iter())
