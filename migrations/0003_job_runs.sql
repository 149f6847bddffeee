-- Background job runs: one row per run of a named job, written when it starts and completed
-- when it ends. A row still 'running' when the server starts was cut off by a crash or a kill
-- and is marked 'interrupted'. Times are Unix seconds (UTC).
CREATE TABLE job_runs (
    id          INTEGER PRIMARY KEY,
    job         TEXT    NOT NULL,
    trigger     TEXT    NOT NULL CHECK (trigger IN ('schedule', 'manual', 'startup')),
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    outcome     TEXT    NOT NULL DEFAULT 'running'
                CHECK (outcome IN ('running', 'ok', 'failed', 'cancelled', 'interrupted')),
    -- Named counts as a JSON object, e.g. {"sessions": 3}.
    counts      TEXT    NOT NULL DEFAULT '{}',
    -- A short fixed text when the run failed; never provider text or a secret.
    error       TEXT    NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX job_runs_job_started ON job_runs (job, started_at DESC);
CREATE INDEX job_runs_running ON job_runs (outcome) WHERE outcome = 'running';
