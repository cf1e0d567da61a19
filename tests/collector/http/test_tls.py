"""HTTPS with --tls-cert and --tls-key."""

from __future__ import annotations

import json
import ssl
import subprocess
import urllib.request
from collections.abc import Callable
from pathlib import Path

from tests.helpers import ServerProcess, free_port, need_program


def test_it_serves_https_with_the_given_certificate(
    server_process: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    openssl = need_program("openssl")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    port = free_port()
    server = ServerProcess(tmp_path / "data", port, "--tls-cert", str(cert), "--tls-key", str(key))
    server.url = f"https://127.0.0.1:{port}"
    context = ssl.create_default_context(cafile=str(cert))
    server.start(context)
    try:
        # Live events too: the event bus writes to the TLS transport itself.
        with urllib.request.urlopen(f"{server.url}/events", context=context, timeout=5) as events:
            assert events.readline() == b"retry: 3000\n"
            request = urllib.request.Request(
                f"{server.url}/push",
                json.dumps({"job": "secure", "event": "start"}).encode(),
                {"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, context=context, timeout=5) as response:
                assert response.status == 200
            lines = iter(events.readline, b"")
            assert next(line for line in lines if line.startswith(b"event: ")) == (
                b"event: run.started\n"
            )
            assert json.loads(next(lines).removeprefix(b"data: "))["job"] == "secure"
    finally:
        assert server.stop() == 0


def test_it_refuses_a_certificate_without_a_key_in_one_line(tmp_path: Path) -> None:
    from tests.collector.test_cli import batchgate

    result = batchgate("serve", "--tls-cert", str(tmp_path / "cert.pem"), "--check-config")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "batchgate: tls: give both a certificate and a key (--tls-cert and --tls-key)"
    ]
