"""The SQLite schema: the database file's name, and the migrations that build it.

Standard library only, like the writer process that applies it (`collector.storage.sqlite.writer`).
Version N of the schema is the first N scripts; `PRAGMA user_version` says which a database has.
"""

from __future__ import annotations

import sqlite3

DATABASE_FILE = "batchgate.db"

MIGRATIONS: list[str] = [
    """
    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        labels TEXT NOT NULL,
        kind TEXT NOT NULL,
        created_at REAL NOT NULL,
        last_seen_at REAL,
        last_start_at REAL,
        last_success_at REAL,
        last_failure_at REAL,
        last_finished_at REAL,
        last_duration REAL,
        last_run_id TEXT,
        counts TEXT NOT NULL,
        duration_buckets TEXT NOT NULL,
        duration_sum REAL NOT NULL,
        duration_count INTEGER NOT NULL,
        UNIQUE (name, labels)
    );
    CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        job_id INTEGER NOT NULL,
        status TEXT NOT NULL,
        started_at REAL NOT NULL,
        finished_at REAL,
        duration REAL,
        last_event_at REAL NOT NULL,
        last_progress_at REAL NOT NULL,
        percent REAL, done REAL, total REAL, errors REAL,
        cpu_percent REAL, memory_bytes REAL, io_read_bytes REAL, io_write_bytes REAL,
        metrics TEXT,
        message TEXT,
        exit_code INTEGER,
        lost_after REAL,
        samples INTEGER NOT NULL,
        sample_level INTEGER NOT NULL,
        last_sample_at REAL
    );
    CREATE INDEX runs_by_job ON runs (job_id, started_at, run_id);
    CREATE INDEX runs_by_outcome ON runs (job_id, status, duration, started_at);
    CREATE INDEX runs_by_start ON runs (started_at);
    CREATE INDEX runs_running ON runs (job_id) WHERE status = 'running';
    CREATE TABLE run_points (
        run_id TEXT NOT NULL,
        seq INTEGER,
        at REAL NOT NULL,
        event TEXT NOT NULL,
        percent REAL, done REAL, total REAL, errors REAL,
        cpu_percent REAL, memory_bytes REAL, io_read_bytes REAL, io_write_bytes REAL,
        metrics TEXT,
        message TEXT,
        exit_code INTEGER
    );
    CREATE INDEX run_points_by_run ON run_points (run_id, at);
    CREATE TABLE seen_events (
        event_id TEXT PRIMARY KEY,
        run_id TEXT NOT NULL,
        received_at REAL NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX seen_events_by_time ON seen_events (received_at);
    """,
    # 2: Pushgateway groups.
    """
    CREATE TABLE pushgateway_groups (
        grouping_key TEXT PRIMARY KEY,
        snapshot TEXT NOT NULL
    );
    CREATE TABLE pushgateway_group_events (
        at REAL NOT NULL,
        event TEXT NOT NULL,
        labels TEXT NOT NULL,
        last_push_at REAL,
        series INTEGER NOT NULL
    );
    CREATE INDEX pushgateway_group_events_by_time ON pushgateway_group_events (at);
    """,
    # 3: alerting. An alert is its AlertBook record (JSON) by id; the outbox holds each
    # notification until it is delivered or given up; silences in Alertmanager's shape.
    """
    CREATE TABLE alerts (
        id TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        data TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        receiver TEXT NOT NULL,
        alert_id TEXT NOT NULL,
        due_at REAL NOT NULL,
        data TEXT NOT NULL
    );
    CREATE TABLE silences (
        id TEXT PRIMARY KEY,
        ends_at REAL NOT NULL,
        data TEXT NOT NULL
    ) WITHOUT ROWID;
    """,
    # 4: the audit log of admin actions.
    """
    CREATE TABLE audit (
        at REAL NOT NULL,
        who TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        details TEXT
    );
    CREATE INDEX audit_by_time ON audit (at);
    """,
    # 5: the last batch committed, by the server's session and the batch's number in it, so
    # that a batch retried after the writer process died with its outcome unknown is
    # applied once.
    """
    CREATE TABLE writer_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        session TEXT NOT NULL,
        last_batch INTEGER NOT NULL
    );
    INSERT INTO writer_state (id, session, last_batch) VALUES (1, '', 0);
    """,
    # 6: succeeded runs by job and start, with what trends add up: a covering index for
    # the trends' sums, which otherwise read every run's row. Partial, so progress on
    # running runs never touches it.
    """
    CREATE INDEX runs_succeeded ON runs (job_id, started_at, duration, done, status)
        WHERE status = 'succeeded';
    """,
    # 7: when the server last made a commit: the latest time it is known to have been
    # listening, so that its next start knows how long it could not hear its jobs.
    """
    ALTER TABLE writer_state ADD COLUMN alive_at REAL NOT NULL DEFAULT 0;
    """,
    # 8: alert history: every alert firing, changing severity or resolving, kept as long
    # as runs are (retention.max_age).
    """
    CREATE TABLE alert_events (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        event TEXT NOT NULL,
        alert_id TEXT NOT NULL,
        rule TEXT NOT NULL,
        job TEXT NOT NULL,
        job_labels TEXT NOT NULL,
        run_id TEXT,
        severity TEXT NOT NULL,
        value REAL,
        summary TEXT
    );
    CREATE INDEX alert_events_by_time ON alert_events (at);
    CREATE INDEX alert_events_by_job ON alert_events (job, at);
    """,
    # 9: runs counted by when they started (per five minutes) and their status now, kept by
    # the database itself as runs are written, ended and deleted: the overview and /summary
    # add up a day of these instead of reading a day of runs.
    """
    CREATE TABLE run_counts (
        bucket INTEGER NOT NULL,
        status TEXT NOT NULL,
        runs INTEGER NOT NULL,
        PRIMARY KEY (bucket, status)
    ) WITHOUT ROWID;
    CREATE TRIGGER run_counts_insert AFTER INSERT ON runs BEGIN
        INSERT INTO run_counts (bucket, status, runs)
            VALUES (CAST(NEW.started_at / 300 AS INTEGER), NEW.status, 1)
            ON CONFLICT (bucket, status) DO UPDATE SET runs = runs + 1;
    END;
    CREATE TRIGGER run_counts_update AFTER UPDATE OF status, started_at ON runs
        WHEN OLD.status IS NOT NEW.status OR OLD.started_at IS NOT NEW.started_at
    BEGIN
        UPDATE run_counts SET runs = runs - 1
            WHERE bucket = CAST(OLD.started_at / 300 AS INTEGER) AND status = OLD.status;
        INSERT INTO run_counts (bucket, status, runs)
            VALUES (CAST(NEW.started_at / 300 AS INTEGER), NEW.status, 1)
            ON CONFLICT (bucket, status) DO UPDATE SET runs = runs + 1;
    END;
    CREATE TRIGGER run_counts_delete AFTER DELETE ON runs BEGIN
        UPDATE run_counts SET runs = runs - 1
            WHERE bucket = CAST(OLD.started_at / 300 AS INTEGER) AND status = OLD.status;
    END;
    INSERT INTO run_counts (bucket, status, runs)
        SELECT CAST(started_at / 300 AS INTEGER), status, count(*) FROM runs GROUP BY 1, 2;
    """,
    # 10: each job's finished runs, newest first: a restart reads the few runs of each job
    # that the rules look back over, not every run of every job.
    """
    CREATE INDEX runs_finished ON runs (job_id, finished_at, run_id) WHERE status != 'running';
    """,
    # 11: PostgreSQL's leadership lease (ha_lease). An SQLite history has one node, which
    # always leads: nothing here, so that both stores keep the same version numbers.
    """
    SELECT 1
    """,
    # 12: runs that wait in a queue and are retried (issue 20): the queue, when the run was
    # queued, its attempts (JSON); each job's retries and wait histogram, counted through
    # restarts as its runs are; and the waiting runs a restart brings back.
    """
    ALTER TABLE runs ADD COLUMN queue TEXT;
    ALTER TABLE runs ADD COLUMN queued_at REAL;
    ALTER TABLE runs ADD COLUMN attempt INTEGER;
    ALTER TABLE runs ADD COLUMN max_attempts INTEGER;
    ALTER TABLE runs ADD COLUMN attempts TEXT;
    ALTER TABLE jobs ADD COLUMN retries INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN wait_buckets TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE jobs ADD COLUMN wait_sum REAL NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN wait_count INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX runs_waiting ON runs (job_id) WHERE status IN ('queued', 'retrying');
    """,
    # 13: a queue's runs by start, for its trends (GET /queues/{queue}/trends).
    """
    CREATE INDEX runs_by_queue ON runs (queue, started_at) WHERE queue IS NOT NULL;
    """,
    # 14: the schedule a job declares itself (issue 21): JSON of its cron, time zone, grace
    # and max runtime, the latest declaration; NULL for a job that declared none.
    """
    ALTER TABLE jobs ADD COLUMN declaration TEXT;
    """,
    # 15: the worker process of a run's current or last attempt (a task queue's worker:
    # Celery's `celery@web-1` and its pid), when its events say.
    """
    ALTER TABLE runs ADD COLUMN worker_hostname TEXT;
    ALTER TABLE runs ADD COLUMN worker_pid INTEGER;
    """,
    # 16: the finished runs of the queues by end, for the queue book's windows of the last
    # day at a start (`store.QUEUE_ENDED`).
    """
    CREATE INDEX runs_queue_finished ON runs (finished_at, queue, status)
        WHERE queue IS NOT NULL;
    """,
]


def migrate(conn: sqlite3.Connection) -> None:
    """Bring the database to the newest schema; refuse one newer than this batchgate."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        raise sqlite3.DatabaseError(
            f"database schema version {version} is newer than this batchgate "
            f"({len(MIGRATIONS)}); upgrade batchgate"
        )
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        conn.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")
