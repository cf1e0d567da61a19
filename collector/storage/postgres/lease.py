"""The leadership lease in PostgreSQL: one row (`ha_lease`, schema version 11) naming the
node that leads, its advertised URL, an epoch and when the lease expires.

Every time is the database's clock (`clock_timestamp()`), so the nodes' clocks may disagree.
The epoch grows by one at every acquisition, never at a renewal: a term of leadership is
one epoch, and the leader's commits name it (`fence_sql`), so that a leader that lost its
lease (paused, cut off) commits nothing more once another node may have taken over.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from batchgate.collector.storage.postgres.schema import SchemaTooNew, migrate
from batchgate.collector.storage.postgres.url import (
    masked,
    password_from_file,
    password_of,
    scrubbed,
)
from batchgate.collector.storage.sqlite.store import StoreUnavailable

log = logging.getLogger(__name__)

FENCE_SQLSTATE = "BGL01"
"""What a commit of a leader whose epoch is no longer the lease's fails with."""

_CLAIM = """
UPDATE ha_lease SET
    epoch = CASE WHEN epoch = $4 AND holder = $1 AND expires_at > clock_timestamp()
                 THEN epoch ELSE epoch + 1 END,
    holder = $1,
    advertise_url = $2,
    expires_at = clock_timestamp() + $3 * interval '1 second'
WHERE id = 1 AND (expires_at <= clock_timestamp() OR (epoch = $4 AND holder = $1))
RETURNING holder, advertise_url, epoch,
    extract(epoch FROM expires_at - clock_timestamp())::double precision
"""
"""Renew the lease this node holds in epoch $4, or take it once expired (a new epoch)."""

_READ = """
SELECT holder, advertise_url, epoch,
    extract(epoch FROM expires_at - clock_timestamp())::double precision
FROM ha_lease WHERE id = 1
"""

_RELEASE = """
UPDATE ha_lease SET expires_at = clock_timestamp()
WHERE id = 1 AND epoch = $1 AND holder = $2 AND expires_at > clock_timestamp()
"""


def fence_sql(epoch: int, hold: float) -> str:
    """Statements that, first in a transaction, hold the lease of `epoch` unchanged until
    the transaction ends (a takeover waits for it), or fail with FENCE_SQLSTATE when the
    lease is another epoch's or has expired. A leader paused in the middle of the
    transaction would hold the lease forever: the server ends the transaction once it has
    waited `hold` seconds for the client (idle_in_transaction_session_timeout)."""
    return (
        f"SET LOCAL idle_in_transaction_session_timeout = {max(int(hold * 1000), 1)}; "
        "DO $fence$ BEGIN PERFORM 1 FROM ha_lease WHERE id = 1 "
        f"AND epoch = {int(epoch)} AND expires_at > clock_timestamp() FOR SHARE; "
        "IF NOT FOUND THEN RAISE EXCEPTION 'this node no longer holds the leadership lease "
        f"(epoch {int(epoch)})' USING ERRCODE = '{FENCE_SQLSTATE}'; END IF; END $fence$"
    )


def is_fenced(error: BaseException) -> bool:
    """Whether a database error is a commit refused by `fence_sql`."""
    return getattr(error, "sqlstate", None) == FENCE_SQLSTATE


@dataclass(frozen=True, slots=True)
class Lease:
    """The lease as the database had it after a claim."""

    holder: str
    advertise_url: str
    epoch: int
    expires_in: float
    """Seconds until it expires, by the database's clock (negative once expired)."""
    held: bool
    """Whether the node that claimed it holds it now."""


class LeaseUnreachable(Exception):
    """The database could not be asked (down, unreachable, too slow)."""


_UNREACHABLE = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
)


class LeaseTable:
    """The lease row, on a connection of its own (the store's writer connection is busy
    with commits that a renewal must not wait behind)."""

    def __init__(self, url: str, password_file: Path | None, timeout: float) -> None:
        self._dsn = url
        self._password_file = password_file
        self._timeout = timeout
        self._conn: asyncpg.Connection[Any] | None = None

    def _password(self) -> str | None:
        return password_from_file(self._password_file) if self._password_file else None

    async def _connection(self) -> asyncpg.Connection[Any]:
        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(
                self._dsn,
                password=self._password(),
                timeout=self._timeout,
                command_timeout=self._timeout,
                server_settings={"application_name": "batchgate-lease"},
            )
        return self._conn

    async def prepare(self) -> None:
        """Bring the schema up to date (the lease's table is in it), as the store does when
        it opens; StoreUnavailable if the database cannot be used."""
        try:
            # A connection of its own: a migration may take longer than a claim may.
            conn = await asyncpg.connect(self._dsn, password=self._password(), timeout=10.0)
            try:
                await migrate(conn)
            finally:
                await conn.close()
        except SchemaTooNew as error:
            raise StoreUnavailable(f"cannot use database {masked(self._dsn)}: {error}") from None
        except (*_UNREACHABLE, asyncpg.PostgresError) as error:
            secrets = (self._password(), password_of(self._dsn))
            reason = scrubbed(str(error) or type(error).__name__, *secrets)
            raise StoreUnavailable(f"cannot use database {masked(self._dsn)}: {reason}") from None

    async def claim(
        self, node: str, advertise_url: str, seconds: float, epoch: int | None
    ) -> Lease:
        """Renew the lease held in `epoch`, or take it if it has expired; else say who has
        it. LeaseUnreachable when the database cannot answer."""
        try:
            conn = await self._connection()
            row = await conn.fetchrow(_CLAIM, node, advertise_url, seconds, epoch)
            if row is not None:
                return Lease(row[0], row[1], row[2], row[3], held=True)
            row = await conn.fetchrow(_READ)
        except _UNREACHABLE as error:
            await self.close()
            raise LeaseUnreachable(f"{type(error).__name__}: {error}") from None
        if row is None:
            raise LeaseUnreachable("the ha_lease row is missing: is the schema migrated?")
        return Lease(row[0], row[1], row[2], row[3], held=False)

    async def release(self, node: str, epoch: int) -> None:
        """Let the lease of `epoch` expire now, so that a standby takes over at once."""
        try:
            conn = await self._connection()
            await conn.execute(_RELEASE, epoch, node)
        except _UNREACHABLE as error:
            log.warning("could not release the leadership lease: %s", error)

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.terminate()
