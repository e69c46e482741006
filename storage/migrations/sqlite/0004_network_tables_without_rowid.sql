-- Key-value network tables as WITHOUT ROWID (storage/netstate.py): a table keyed by text was a
-- rowid b-tree plus the unique index of its key, so each new row was two b-tree inserts and a
-- page's transaction dirtied (and wrote to the WAL) one more page per table; now the key is the
-- table. Same columns, same rows (copied). PostgreSQL has no such layout (its 0004 is empty).

CREATE TABLE net_meta_new (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO net_meta_new (key, value) SELECT key, value FROM net_meta;
DROP TABLE net_meta;
ALTER TABLE net_meta_new RENAME TO net_meta;

CREATE TABLE net_pages_new (
    url TEXT PRIMARY KEY,
    pkey INTEGER NOT NULL,           -- store page id (backfill) or a provisional id >= 2**40
    name TEXT,                       -- first advertised name seen for this URL
    country TEXT,
    confirmed INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
INSERT INTO net_pages_new (url, pkey, name, country, confirmed)
    SELECT url, pkey, name, country, confirmed FROM net_pages;
DROP TABLE net_pages;
ALTER TABLE net_pages_new RENAME TO net_pages;

CREATE TABLE net_confirmed_new (
    url TEXT PRIMARY KEY             -- pages whose latest verdict is `confirmed` (from the audit)
) WITHOUT ROWID;
INSERT INTO net_confirmed_new (url) SELECT url FROM net_confirmed;
DROP TABLE net_confirmed;
ALTER TABLE net_confirmed_new RENAME TO net_confirmed;

CREATE TABLE net_nodes_new (
    node TEXT PRIMARY KEY,
    comp INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO net_nodes_new (node, comp) SELECT node, comp FROM net_nodes;
DROP TABLE net_nodes;
ALTER TABLE net_nodes_new RENAME TO net_nodes;
CREATE INDEX net_nodes_comp ON net_nodes(comp);

CREATE TABLE net_entities_new (
    ekey TEXT PRIMARY KEY,
    pages INTEGER NOT NULL,
    names INTEGER NOT NULL,
    countries INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO net_entities_new (ekey, pages, names, countries)
    SELECT ekey, pages, names, countries FROM net_entities;
DROP TABLE net_entities;
ALTER TABLE net_entities_new RENAME TO net_entities;
