-- entities(kind, value) was never read by a query (entity lookups go through the networks
-- engineer's net_* tables and the in-memory NetworkIndex), yet every stored entity paid for it:
-- about 30 of ~200 microseconds of a page's record on SQLite (bench/store_bench.py).
-- Entities are still found by page (entities_page).
DROP INDEX IF EXISTS entities_kind_value;
