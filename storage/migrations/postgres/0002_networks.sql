-- Crawl-time network state (crawler.networks.StoreNetwork, storage/netstate.py): what a worker
-- needs to raise the network signals of a new page without holding every page in memory.
-- Every row is keyed so that adding the same page again (a refetch, a resumed crawl after
-- kill -9) changes nothing twice. Nodes: 'p:<url>', 'e:<kind>:<value>', 't:<cluster>'.

CREATE TABLE net_meta (
    key TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO net_meta (key, value) VALUES ('next_key', 1099511627776), ('audit_id', 0),
    ('backfilled', 0);

CREATE TABLE net_pages (
    url TEXT PRIMARY KEY,
    pkey BIGINT NOT NULL,           -- store page id (backfill) or a provisional id >= 2**40
    name TEXT,                       -- first advertised name seen for this URL
    country TEXT,
    confirmed INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE net_confirmed (
    url TEXT PRIMARY KEY             -- pages whose latest verdict is `confirmed` (from the audit)
);

CREATE TABLE net_nodes (
    node TEXT PRIMARY KEY,
    comp BIGINT NOT NULL
);
CREATE INDEX net_nodes_comp ON net_nodes(comp);

CREATE TABLE net_comps (
    comp BIGINT PRIMARY KEY,
    size INTEGER NOT NULL,           -- nodes
    pages INTEGER NOT NULL,
    confirmed INTEGER NOT NULL,      -- confirmed pages
    net_id BIGINT NOT NULL          -- smallest page key in it
);

CREATE TABLE net_entities (
    ekey TEXT PRIMARY KEY,
    pages INTEGER NOT NULL,
    names INTEGER NOT NULL,
    countries INTEGER NOT NULL
);
CREATE TABLE net_entity_pages (
    ekey TEXT NOT NULL,
    url TEXT NOT NULL,
    PRIMARY KEY (ekey, url)
);
CREATE TABLE net_entity_names (
    ekey TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (ekey, name)
);
CREATE TABLE net_entity_countries (
    ekey TEXT NOT NULL,
    country TEXT NOT NULL,
    PRIMARY KEY (ekey, country)
);

-- Template LSH: representatives' MinHash signatures and their band hashes.
CREATE TABLE net_tmpl_reps (
    pkey BIGINT PRIMARY KEY,
    cluster BIGINT NOT NULL,
    sig BYTEA NOT NULL
);
CREATE INDEX net_tmpl_reps_cluster ON net_tmpl_reps(cluster);
CREATE TABLE net_tmpl_bands (
    bhash BIGINT NOT NULL,
    pkey BIGINT NOT NULL,
    PRIMARY KEY (bhash, pkey)
);
