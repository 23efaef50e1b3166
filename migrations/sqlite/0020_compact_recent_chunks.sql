-- From this version on, a flushed chunk of recent requests leaves out of each request the
-- fields that repeat the chunk's first request, and readers take them from it. A keyward
-- before this one would read those requests as errors, and refuses to start on a database
-- with a migration it does not know (README "Upgrades"); the row records the format.
INSERT INTO meta (key, value) VALUES ('recent_chunk_format', 2);
