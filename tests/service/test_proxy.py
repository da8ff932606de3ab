"""The shipped reverse-proxy configuration (service/deploy/nginx.conf), run by Debian's nginx in front of the real
`citewell serve`: HTTPS with a certificate made here, client addresses passed on, limits and JSON errors."""

from __future__ import annotations

import http.client
import json
import os
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from .conftest import ServerProcess, free_port

NGINX = Path("/usr/sbin/nginx")
OPENSSL = Path("/usr/bin/openssl")
SHIPPED = Path(__file__).resolve().parents[2] / "service" / "deploy" / "nginx.conf"
QUESTION = {"question": "When was election infrastructure designated critical infrastructure?"}


@dataclass(frozen=True)
class Proxy:
    https_port: int
    http_port: int
    certificate: Path

    def context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.certificate))

    def ask_from(self, address: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, object]]:
        """POST /api/ask over HTTPS from the loopback ``address`` (127.0.0.2, ...), as a separate client."""
        connection = http.client.HTTPSConnection(
            "localhost", self.https_port, context=self.context(), timeout=30, source_address=(address, 0)
        )
        try:
            body = json.dumps(QUESTION)
            connection.request(
                "POST", "/api/ask", body, {"Content-Type": "application/json", **(headers or {})}
            )
            response = connection.getresponse()
            return response.status, json.loads(response.read())
        finally:
            connection.close()


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for localhost and 127.0.0.1 and its key, made with Debian's openssl."""
    certificate, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            str(OPENSSL), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", str(key), "-out", str(certificate), "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return certificate, key


def site_config(upstream_port: int, proxy: Proxy, key: Path) -> str:
    """The shipped file with this test's names, ports and paths, and nothing else changed."""
    text = SHIPPED.read_text(encoding="utf-8")
    replacements = {
        "server 127.0.0.1:8000;": f"server 127.0.0.1:{upstream_port};",
        "listen 443 ssl;": f"listen 127.0.0.1:{proxy.https_port} ssl;",
        "listen 80;": f"listen 127.0.0.1:{proxy.http_port};",
        "/etc/letsencrypt/live/ask.example.org/fullchain.pem": str(proxy.certificate),
        "/etc/letsencrypt/live/ask.example.org/privkey.pem": str(key),
        "ask.example.org": "localhost",
    }
    for shipped, here in replacements.items():
        assert shipped in text, f"the shipped configuration no longer holds {shipped!r}"
        text = text.replace(shipped, here)
    return text


@pytest.fixture(scope="module")
def proxied_server(
    corpus_index_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """citewell on loopback, trusting one proxy for addresses, with a tight rate limit to tell clients apart."""
    log = tmp_path_factory.mktemp("proxied") / "server.log"
    with ServerProcess(corpus_index_dir, log, {"PROXY_HOPS": "1", "RATE_LIMIT": "3/minute"}) as process:
        yield process


@pytest.fixture(scope="module")
def proxy(proxied_server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """Debian's nginx (installed by `make test`) with the shipped site, in its own prefix on free loopback ports."""
    if not NGINX.exists():
        pytest.fail("nginx is missing: `make test` installs it")
    prefix = tmp_path_factory.mktemp("nginx")
    certificate, key = self_signed_certificate(prefix)
    proxy = Proxy(https_port=free_port(), http_port=free_port(), certificate=certificate)
    (prefix / "citewell.conf").write_text(site_config(proxied_server.port, proxy, key), encoding="utf-8")
    temp_paths = "\n".join(
        f"    {kind}_temp_path {prefix / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    # as root, nginx's workers would run as nobody, who cannot enter pytest's private temporary folder
    user = "user root;\n" if os.geteuid() == 0 else ""
    (prefix / "nginx.conf").write_text(
        f"{user}pid {prefix / 'nginx.pid'};\nworker_processes 1;\nerror_log {prefix / 'error.log'};\n"
        f"events {{ worker_connections 512; }}\n"
        f"http {{\n    access_log {prefix / 'access.log'};\n{temp_paths}\n    include {prefix / 'citewell.conf'};\n}}\n",
        encoding="utf-8",
    )
    command = [
        str(NGINX),
        "-p",
        str(prefix),
        "-c",
        str(prefix / "nginx.conf"),
        "-e",
        str(prefix / "error.log"),
    ]
    subprocess.run([*command, "-t"], check=True, capture_output=True)
    nginx = subprocess.Popen([*command, "-g", "daemon off;"])
    try:
        deadline = time.monotonic() + 20
        while True:
            assert nginx.poll() is None, (prefix / "error.log").read_text()
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", proxy.https_port)) == 0:
                    break
            assert time.monotonic() < deadline, "nginx never listened"
            time.sleep(0.1)
        yield proxy
    finally:
        nginx.terminate()
        nginx.wait(10)


@pytest.mark.slow
def test_https_through_nginx_answers_and_plain_http_redirects(proxy: Proxy) -> None:
    status, answer = proxy.ask_from("127.0.0.1")
    assert status == 200 and answer["answered"] is True
    assert "January 6, 2017" in str(answer["answer"])
    redirect = requests.get(f"http://127.0.0.1:{proxy.http_port}/chat", allow_redirects=False, timeout=5)
    assert redirect.status_code == 301 and redirect.headers["Location"] == "https://localhost/chat"


@pytest.mark.slow
def test_clients_are_told_apart_by_the_address_nginx_passes_on_and_cannot_forge_it(proxy: Proxy) -> None:
    """Every connection to citewell comes from nginx, yet each client gets its own rate-limit budget: citewell
    reads the X-Forwarded-For that nginx writes. A client's own X-Forwarded-For is replaced, so it cannot pass
    for another address."""
    forged = {"X-Forwarded-For": "198.51.100.7"}
    statuses = [proxy.ask_from("127.0.0.2", forged if turn else None)[0] for turn in range(4)]
    assert statuses == [200, 200, 200, 429]  # RATE_LIMIT 3/minute for 127.0.0.2, forged or not
    status, _ = proxy.ask_from("127.0.0.3")
    assert status == 200  # another client, its own budget


@pytest.mark.slow
def test_nginx_refuses_a_body_over_the_limit_and_a_long_request_line_or_header_in_json(proxy: Proxy) -> None:
    base = f"https://localhost:{proxy.https_port}"
    too_large = requests.post(
        base + "/api/ask",
        data=b"x" * 70_000,
        headers={"Content-Type": "application/json"},
        verify=str(proxy.certificate),
        timeout=10,
    )
    assert too_large.status_code == 413 and too_large.json()["error"]["code"] == "payload_too_large"
    long_line = requests.get(base + "/api/health?" + "a" * 9000, verify=str(proxy.certificate), timeout=10)
    assert long_line.status_code == 414 and long_line.json()["error"]["code"] == "uri_too_long"
    long_header = requests.get(
        base + "/api/health", headers={"X-Big": "b" * 9000}, verify=str(proxy.certificate), timeout=10
    )
    assert long_header.status_code == 400 and long_header.json()["error"]["code"] == "bad_request"
