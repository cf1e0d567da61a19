"""A real PostgreSQL server of the test's own: Debian's `postgresql` package, a cluster made
with `initdb` in a temporary directory, on a free loopback port, stopped at the end.

Run as the `postgres` user when the test runs as root (PostgreSQL refuses to run as root).
TCP connections need a password (scram-sha-256), so a store URL's password is really
used; the cluster's own commands go through its Unix socket, in the temporary directory.
The benchmarks use it too (bench/postgres_driver.py).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.harness import free_port

SERVER_USER = "postgres"
"""The operating system user the server runs as when the test is root."""
ROLE = "batchgate"
"""The database role batchgate connects as: not a superuser, owner of its databases."""


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL's program directory (`/usr/lib/postgresql/N/bin`)."""
    found = sorted(
        (Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
    )
    return found[-1] if found else None


class Cluster:
    """One PostgreSQL server in a temporary directory. `start()`, then `database(name)`
    for a fresh database's URL, then `stop()` (which removes everything)."""

    def __init__(self, settings: dict[str, str] | None = None) -> None:
        binaries = postgres_bin()
        if binaries is None:
            raise FileNotFoundError("PostgreSQL is not installed (apt-get install postgresql)")
        self.bin = binaries
        self.settings = settings or {}
        """Server settings (`-c name=value`), e.g. {"fsync": "off"} for tests."""
        self.port = 0
        self.password = secrets.token_urlsafe(12)
        """The `batchgate` role's password."""
        self.root = Path(tempfile.mkdtemp(prefix="batchgate-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._as_server_user: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam(SERVER_USER)
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
            self._as_server_user = ["runuser", "-u", SERVER_USER, "--"]
        self._running = False
        self._databases = 0

    @property
    def version(self) -> str:
        return self._run("postgres", "--version").strip()

    def _run(self, program: str, *arguments: str, stdin: str | None = None) -> str:
        command = [*self._as_server_user, str(self.bin / program), *arguments]
        done = subprocess.run(
            command, input=stdin, capture_output=True, text=True, timeout=120, check=False
        )
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(
                f"{program} failed ({done.returncode}): {done.stderr.strip()}\n{log}".strip()
            )
        return done.stdout

    def start(self) -> Cluster:
        password_file = self.root / "superuser-password"
        password_file.write_text(secrets.token_urlsafe(12) + "\n")
        if self._as_server_user:
            owner = pwd.getpwnam(SERVER_USER)
            os.chown(password_file, owner.pw_uid, owner.pw_gid)
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--encoding=UTF8",
            "--locale=C", "--no-sync", "--auth-local=trust", "--auth-host=scram-sha-256",
            f"--pwfile={password_file}",
        )  # fmt: skip
        password_file.unlink()
        # A port taken between free_port() and the server's bind: try another, a few times.
        for attempt in range(5):
            self.port = free_port()
            try:
                self.resume()
                break
            except RuntimeError:
                if attempt == 4 or "could not bind" not in self.log.read_text(errors="replace"):
                    raise
        self._running = True
        self.sql(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{self.password}'")
        return self

    def sql(self, statement: str, database: str = "postgres") -> str:
        """Run one statement as the superuser, over the Unix socket; its output, unaligned."""
        return self._run(
            "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", str(self.root),
            "-p", str(self.port), "-U", "postgres", "-d", database, "-c", statement,
        )  # fmt: skip

    def database(self, name: str | None = None) -> str:
        """A new, empty database owned by the `batchgate` role; its URL (with the password)."""
        if name is None:
            self._databases += 1
            name = f"batchgate_{self._databases}"
        self.sql(f"CREATE DATABASE {name} OWNER {ROLE}")
        return self.url(name)

    def url(self, database: str, password: bool = True) -> str:
        secret = f":{self.password}" if password else ""
        return f"postgresql://{ROLE}{secret}@127.0.0.1:{self.port}/{database}"

    def halt(self) -> None:
        """Stop the server (as an outage would), keeping its data: `resume()` starts it again."""
        self._run("pg_ctl", "stop", "-w", "-t", "30", "-m", "fast", "-D", str(self.data))

    def resume(self) -> None:
        """Start the server (again), on its port."""
        options = [f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root}"]
        options.extend(f"-c {name}={value}" for name, value in self.settings.items())
        self._run(
            "pg_ctl", "start", "-w", "-t", "60", "-D", str(self.data), "-l", str(self.log),
            "-o", " ".join(options),
        )  # fmt: skip

    def restart(self) -> None:
        self._run(
            "pg_ctl", "restart", "-w", "-t", "60", "-m", "fast", "-D", str(self.data),
            "-l", str(self.log),
        )  # fmt: skip

    def stop(self) -> None:
        if self._running:
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                self._run("pg_ctl", "stop", "-w", "-t", "30", "-m", "fast", "-D", str(self.data))
            self._running = False
        # The server's last files may take a moment to go after pg_ctl returns.
        for _ in range(10):
            try:
                shutil.rmtree(self.root)
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.1)


@contextlib.contextmanager
def running_cluster(settings: dict[str, str] | None = None) -> Iterator[Cluster]:
    """A started cluster, stopped and removed when the block ends."""
    cluster = Cluster(settings)
    try:
        yield cluster.start()
    finally:
        cluster.stop()


def need_postgres() -> Path:
    """PostgreSQL's program directory; skip without it locally, fail under CI (as
    `tests.helpers.need_program`)."""
    binaries = postgres_bin()
    if binaries is None:
        reason = "PostgreSQL is not installed (`make install` installs Debian's postgresql)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must not skip it")
        pytest.skip(reason)
    return binaries
