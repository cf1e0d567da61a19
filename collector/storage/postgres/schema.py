"""The PostgreSQL schema: the same tables and versions as SQLite's (`storage.sqlite.schema`).

Version N of the schema is the first N scripts, as in SQLite, so a history copied from one
store to the other is at the same version; `batchgate_schema.version` says which a database
has. Differences from SQLite, each for a reason:

- Times and numbers are `double precision` (SQLite's REAL: the same 8-byte floats), whole
  numbers `bigint` (an exit code may be up to 2**32 - 1).
- Run ids and event ids are `COLLATE "C"`: ordered and compared byte by byte as SQLite
  does, whatever the database's locale (the runs' cursors compare run ids).
- SQLite's `rowid`, which orders timelines, group history and the audit log among rows of
  the same time, is an identity column `id` here.
- Keys that may be longer than a B-tree entry may hold (about 2,700 bytes: a job's labels, a
  Pushgateway grouping key, with label values of up to 1,024 characters each) are unique by
  their SHA-256 digest (`key_digest`), computed by the store; alert history is indexed
  by the MD5 of its job's name, for the same reason.
- Runs leave a tenth of each page free (`fillfactor = 90`), and the covering index of
  succeeded runs holds their duration but not `done`: a progress update of a running run
  then changes no indexed column and fits its page, so PostgreSQL makes it in place of the
  old row version (a HOT update) instead of adding an entry to each of the runs' indexes.
"""

from __future__ import annotations

from typing import Any

SCHEMA_TABLE = "batchgate_schema"

MIGRATIONS: list[str] = [
    """
    CREATE TABLE jobs (
        id bigint PRIMARY KEY,
        name text NOT NULL,
        labels text NOT NULL,
        kind text NOT NULL,
        created_at double precision NOT NULL,
        last_seen_at double precision,
        last_start_at double precision,
        last_success_at double precision,
        last_failure_at double precision,
        last_finished_at double precision,
        last_duration double precision,
        last_run_id text COLLATE "C",
        counts text NOT NULL,
        duration_buckets text NOT NULL,
        duration_sum double precision NOT NULL,
        duration_count bigint NOT NULL,
        key_digest bytea NOT NULL UNIQUE
    );
    CREATE TABLE runs (
        run_id text COLLATE "C" PRIMARY KEY,
        job_id bigint NOT NULL,
        status text NOT NULL,
        started_at double precision NOT NULL,
        finished_at double precision,
        duration double precision,
        last_event_at double precision NOT NULL,
        last_progress_at double precision NOT NULL,
        percent double precision, done double precision, total double precision,
        errors double precision,
        cpu_percent double precision, memory_bytes double precision,
        io_read_bytes double precision, io_write_bytes double precision,
        metrics text,
        message text,
        exit_code bigint,
        lost_after double precision,
        samples bigint NOT NULL,
        sample_level bigint NOT NULL,
        last_sample_at double precision
    ) WITH (fillfactor = 90);
    CREATE INDEX runs_by_job ON runs (job_id, started_at, run_id);
    CREATE INDEX runs_by_outcome ON runs (job_id, status, duration, started_at);
    CREATE INDEX runs_by_start ON runs (started_at);
    CREATE INDEX runs_running ON runs (job_id) WHERE status = 'running';
    CREATE TABLE run_points (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        run_id text COLLATE "C" NOT NULL,
        seq bigint,
        at double precision NOT NULL,
        event text NOT NULL,
        percent double precision, done double precision, total double precision,
        errors double precision,
        cpu_percent double precision, memory_bytes double precision,
        io_read_bytes double precision, io_write_bytes double precision,
        metrics text,
        message text,
        exit_code bigint
    );
    CREATE INDEX run_points_by_run ON run_points (run_id, at);
    CREATE TABLE seen_events (
        event_id text COLLATE "C" PRIMARY KEY,
        run_id text COLLATE "C" NOT NULL,
        received_at double precision NOT NULL
    );
    CREATE INDEX seen_events_by_time ON seen_events (received_at);
    """,
    # 2: Pushgateway groups.
    """
    CREATE TABLE pushgateway_groups (
        key_digest bytea PRIMARY KEY,
        grouping_key text NOT NULL,
        snapshot text NOT NULL
    );
    CREATE TABLE pushgateway_group_events (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at double precision NOT NULL,
        event text NOT NULL,
        labels text NOT NULL,
        last_push_at double precision,
        series bigint NOT NULL
    );
    CREATE INDEX pushgateway_group_events_by_time ON pushgateway_group_events (at);
    """,
    # 3: alerting: alerts (their AlertBook records), the outbox, silences.
    """
    CREATE TABLE alerts (
        id text COLLATE "C" PRIMARY KEY,
        state text NOT NULL,
        data text NOT NULL
    );
    CREATE TABLE outbox (
        id bigint PRIMARY KEY,
        receiver text NOT NULL,
        alert_id text NOT NULL,
        due_at double precision NOT NULL,
        data text NOT NULL
    );
    CREATE TABLE silences (
        id text COLLATE "C" PRIMARY KEY,
        ends_at double precision NOT NULL,
        data text NOT NULL
    );
    """,
    # 4: the audit log of admin actions.
    """
    CREATE TABLE audit (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at double precision NOT NULL,
        who text NOT NULL,
        action text NOT NULL,
        target text NOT NULL,
        details text
    );
    CREATE INDEX audit_by_time ON audit (at);
    """,
    # 5: the last batch committed, by the server's session and the batch's number in it.
    """
    CREATE TABLE writer_state (
        id integer PRIMARY KEY CHECK (id = 1),
        session text NOT NULL,
        last_batch bigint NOT NULL
    );
    INSERT INTO writer_state (id, session, last_batch) VALUES (1, '', 0);
    """,
    # 6: succeeded runs by job and start, covering what trends add up.
    """
    CREATE INDEX runs_succeeded ON runs (job_id, started_at) INCLUDE (duration)
        WHERE status = 'succeeded';
    """,
    # 7: when the server last made a commit.
    """
    ALTER TABLE writer_state ADD COLUMN alive_at double precision NOT NULL DEFAULT 0;
    """,
    # 8: alert history.
    """
    CREATE TABLE alert_events (
        id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        at double precision NOT NULL,
        event text NOT NULL,
        alert_id text NOT NULL,
        rule text NOT NULL,
        job text NOT NULL,
        job_labels text NOT NULL,
        run_id text,
        severity text NOT NULL,
        value double precision,
        summary text
    );
    CREATE INDEX alert_events_by_time ON alert_events (at);
    CREATE INDEX alert_events_by_job ON alert_events (md5(job), at);
    """,
    # 9: runs counted per five minutes of start and by their status now, kept by the
    # database as runs are written, ended and deleted (SQLite's migration 9).
    """
    CREATE TABLE run_counts (
        bucket bigint NOT NULL,
        status text NOT NULL,
        runs bigint NOT NULL,
        PRIMARY KEY (bucket, status)
    );
    CREATE FUNCTION batchgate_count_runs() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            UPDATE run_counts SET runs = runs - 1
                WHERE bucket = floor(OLD.started_at / 300)::bigint AND status = OLD.status;
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            INSERT INTO run_counts (bucket, status, runs)
                VALUES (floor(NEW.started_at / 300)::bigint, NEW.status, 1)
                ON CONFLICT (bucket, status) DO UPDATE SET runs = run_counts.runs + 1;
        END IF;
        RETURN NULL;
    END $$;
    CREATE TRIGGER run_counts_insert_delete AFTER INSERT OR DELETE ON runs
        FOR EACH ROW EXECUTE FUNCTION batchgate_count_runs();
    CREATE TRIGGER run_counts_update AFTER UPDATE OF status, started_at ON runs
        FOR EACH ROW
        WHEN (OLD.status IS DISTINCT FROM NEW.status
              OR OLD.started_at IS DISTINCT FROM NEW.started_at)
        EXECUTE FUNCTION batchgate_count_runs();
    INSERT INTO run_counts (bucket, status, runs)
        SELECT floor(started_at / 300)::bigint, status, count(*) FROM runs GROUP BY 1, 2;
    """,
    # 10: each job's finished runs, newest first, for the restore (SQLite's migration 10).
    """
    CREATE INDEX runs_finished ON runs (job_id, finished_at DESC NULLS LAST, run_id DESC)
        WHERE status <> 'running';
    """,
    # 11: the leadership lease of several nodes on one database (storage.postgres.lease):
    # one row, expired until a node takes it (epoch 0 is never a held lease's).
    """
    CREATE TABLE ha_lease (
        id integer PRIMARY KEY CHECK (id = 1),
        holder text NOT NULL,
        advertise_url text NOT NULL,
        epoch bigint NOT NULL,
        expires_at timestamptz NOT NULL
    );
    INSERT INTO ha_lease (id, holder, advertise_url, epoch, expires_at)
        VALUES (1, '', '', 0, '-infinity');
    """,
    # 12: runs that wait in a queue and are retried (SQLite's migration 12).
    """
    ALTER TABLE runs ADD COLUMN queue text, ADD COLUMN queued_at double precision,
        ADD COLUMN attempt bigint, ADD COLUMN max_attempts bigint, ADD COLUMN attempts text;
    ALTER TABLE jobs ADD COLUMN retries bigint NOT NULL DEFAULT 0,
        ADD COLUMN wait_buckets text NOT NULL DEFAULT '[]',
        ADD COLUMN wait_sum double precision NOT NULL DEFAULT 0,
        ADD COLUMN wait_count bigint NOT NULL DEFAULT 0;
    CREATE INDEX runs_waiting ON runs (job_id) WHERE status IN ('queued', 'retrying');
    """,
    # 13: a queue's runs by start, for its trends (GET /queues/{queue}/trends).
    """
    CREATE INDEX runs_by_queue ON runs (queue, started_at) WHERE queue IS NOT NULL;
    """,
    # 14: the schedule a job declares itself (issue 21): JSON of its cron, time zone, grace
    # and max runtime, the latest declaration; NULL for a job that declared none.
    """
    ALTER TABLE jobs ADD COLUMN declaration text;
    """,
    # 15: the worker process of a run's current or last attempt (SQLite's migration 15).
    """
    ALTER TABLE runs ADD COLUMN worker_hostname text, ADD COLUMN worker_pid bigint;
    """,
    # 16: the finished runs of the queues by end (SQLite's migration 16).
    """
    CREATE INDEX runs_queue_finished ON runs (finished_at, queue, status)
        WHERE queue IS NOT NULL;
    """,
]

MIGRATION_LOCK = 0x6261_7463_6867_7465  # "batchgte": one node migrates at a time
"""The advisory lock held while the schema is read and migrated, so that nodes starting
together on one database migrate it once."""


class SchemaTooNew(Exception):
    """The database was migrated by a newer batchgate."""


async def migrate(conn: Any) -> int:
    """Bring the database to the newest schema; returns the version it had. Raises
    SchemaTooNew for a database newer than this batchgate. `conn` is an asyncpg
    connection outside a transaction."""
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
    try:
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {SCHEMA_TABLE} ("
            "id integer PRIMARY KEY CHECK (id = 1), version integer NOT NULL)"
        )
        version = await conn.fetchval(f"SELECT version FROM {SCHEMA_TABLE}") or 0
        if version > len(MIGRATIONS):
            raise SchemaTooNew(
                f"database schema version {version} is newer than this batchgate "
                f"({len(MIGRATIONS)}); upgrade batchgate"
            )
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            async with conn.transaction():
                await conn.execute(script)
                await conn.execute(
                    f"INSERT INTO {SCHEMA_TABLE} (id, version) VALUES (1, $1) "
                    "ON CONFLICT (id) DO UPDATE SET version = excluded.version",
                    number,
                )
        return int(version)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
