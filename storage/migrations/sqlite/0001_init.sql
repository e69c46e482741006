-- triage schema v1 (SQLite). Times are UNIX epoch seconds (REAL, UTC).
CREATE TABLE batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    submitted_at REAL NOT NULL,
    accepted INTEGER NOT NULL DEFAULT 0,
    duplicates INTEGER NOT NULL DEFAULT 0,
    rejected INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE seed_rejects (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    batch_id INTEGER NOT NULL REFERENCES batches(id),
    source TEXT NOT NULL,
    line INTEGER NOT NULL,
    text TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX seed_rejects_batch ON seed_rejects(batch_id);

CREATE TABLE urls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    url TEXT NOT NULL UNIQUE,
    host TEXT NOT NULL,
    batch_id INTEGER NOT NULL REFERENCES batches(id),
    label TEXT,
    state TEXT NOT NULL DEFAULT 'queued'
        CHECK (state IN ('queued', 'fetching', 'done', 'refused', 'failed')),
    reason TEXT,
    detail TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until REAL,
    depth INTEGER NOT NULL DEFAULT 0,
    parent_id INTEGER REFERENCES urls(id),
    not_before REAL,
    updated_at REAL NOT NULL
);
CREATE INDEX urls_ready ON urls(state, id);
CREATE INDEX urls_lease ON urls(state, lease_until);
CREATE INDEX urls_batch ON urls(batch_id, state);

CREATE TABLE hosts (
    host TEXT PRIMARY KEY,
    next_allowed_at REAL NOT NULL
);

CREATE TABLE pages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    url_id INTEGER NOT NULL REFERENCES urls(id),
    final_url TEXT,
    status INTEGER,
    headers TEXT NOT NULL DEFAULT '{}',
    content_type TEXT,
    bytes INTEGER NOT NULL DEFAULT 0,
    sha256 TEXT,
    fetched_at REAL NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    body TEXT NOT NULL DEFAULT '',
    contact TEXT NOT NULL DEFAULT '',
    meta TEXT NOT NULL DEFAULT '',
    language TEXT,
    legal_basis TEXT,
    previous_page_id INTEGER REFERENCES pages(id),
    warc_file TEXT,
    warc_offset INTEGER,
    warc_length INTEGER,
    warc_sha256 TEXT,
    purged_at REAL
);
CREATE INDEX pages_url ON pages(url_id, id);

CREATE TABLE hits (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    page_id INTEGER NOT NULL REFERENCES pages(id),
    url_id INTEGER NOT NULL REFERENCES urls(id),
    url TEXT NOT NULL,
    content_sha256 TEXT NOT NULL,
    ruleset_version TEXT NOT NULL,
    score REAL NOT NULL,
    priority TEXT NOT NULL,
    priority_rank INTEGER NOT NULL,
    families TEXT NOT NULL DEFAULT ',',
    indicators TEXT NOT NULL DEFAULT '[]',
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'confirmed', 'dismissed', 'escalated')),
    assignee TEXT,
    reviewer TEXT,
    reviewed_at REAL,
    created_at REAL NOT NULL,
    previous_hit_id INTEGER REFERENCES hits(id),
    purged_at REAL,
    UNIQUE (url_id, content_sha256, ruleset_version)
);
CREATE INDEX hits_queue ON hits(status, priority_rank DESC, score DESC, id);
CREATE INDEX hits_url ON hits(url_id, id);
CREATE INDEX hits_page ON hits(page_id);

CREATE TABLE entities (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    page_id INTEGER NOT NULL REFERENCES pages(id),
    kind TEXT NOT NULL,
    subtype TEXT NOT NULL DEFAULT '',
    value TEXT NOT NULL,
    span TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX entities_kind_value ON entities(kind, value);
CREATE INDEX entities_page ON entities(page_id);

CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    hit_id INTEGER REFERENCES hits(id),
    actor TEXT NOT NULL,
    at REAL NOT NULL,
    action TEXT NOT NULL,
    from_value TEXT,
    to_value TEXT,
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_hit ON audit(hit_id, id);

-- The audit log is append-only.
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit is append-only');
END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit is append-only');
END;
