-- From this version on, a flushed chunk of recent requests leaves out of each request the
-- fields that repeat the chunk's first request, and readers take them from it. A keyward
-- before this one would read those requests as errors: this migration marks the database,
-- so that such a binary refuses to start on it (README "Upgrades").
INSERT INTO meta (key, value) VALUES ('recent_chunk_format', 2);
