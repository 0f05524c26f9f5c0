-- bench_data.sql: a deterministic synthetic interaction set of
-- MovieLens-20M's shape, scaled by :users, :items and :per_user (mean
-- interactions per user).  Item popularity follows a power law, user
-- activity is log-normal, and users belong to one of 20 taste clusters
-- that prefer a slice of the catalogue.  Randomness comes from hashes,
-- so every run builds the same data.
CREATE FUNCTION pg_temp.draw(a bigint, b bigint, purpose int) RETURNS float8
LANGUAGE sql IMMUTABLE
RETURN (hashint8((a * 1000003 + b) * 31 + purpose)::int8 + 2147483648) / 4294967296.0;

CREATE UNLOGGED TABLE bench_ratings (user_id int NOT NULL, item_id int NOT NULL, ts bigint NOT NULL);
INSERT INTO bench_ratings
SELECT u,
       CASE WHEN pg_temp.draw(u, j, 1) < 0.6
            -- the user's cluster: a contiguous slice of the catalogue, power-law within it
            THEN ((u % 20) * (:items / 20) + floor((:items / 20) * pg_temp.draw(u, j, 2) ^ 3))::int
            -- anywhere, power-law popularity over the whole catalogue
            ELSE floor(:items * pg_temp.draw(u, j, 3) ^ 4)::int END,
       1400000000 + j * 3600 + u
  FROM generate_series(1, :users) u,
       LATERAL generate_series(1, greatest(2, least(2000,
           round(:per_user * exp(0.9 * sqrt(-2 * ln(greatest(pg_temp.draw(u, 0, 4), 1e-9)))
                                  * cos(2 * pi() * pg_temp.draw(u, 0, 5)) - 0.405)))::int)) j;
-- as README advises for serving: by user and time, covering the item, so
-- that a request reads its user's history from the index alone (VACUUM
-- sets the visibility map that index-only scans need)
CREATE INDEX ON bench_ratings (user_id, ts) INCLUDE (item_id);
VACUUM ANALYZE bench_ratings;

-- Items with a category holding 10% of the catalogue, spread evenly over
-- the taste clusters (for the filter figures).
CREATE UNLOGGED TABLE bench_items AS
SELECT i AS item_id, (i % 10)::text AS category FROM generate_series(0, :items - 1) i;
ALTER TABLE bench_items ADD PRIMARY KEY (item_id);
ANALYZE bench_items;
