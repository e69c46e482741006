-- SQLite's 0004 rebuilds its key-value network tables as WITHOUT ROWID (the key is the table).
-- PostgreSQL keeps heap tables with a primary-key index: nothing to change. This file keeps the
-- two dialects' migration numbers in step.
SELECT 1;
