-- demo_data.sql: the generated dataset of `make demo` (run by demo.sh when
-- no --data is given).  Planted structure, identical on every run: every
-- pseudo-random draw is an md5 of (user, position, purpose), never random().
--
--   movies   300 items: 6 genres of 45 titles ('Sci-Fi #12'), popularity
--            falling off as a power law within each genre, and 30 globally
--            popular 'Blockbuster #n' titles.
--   ratings  600 users; user u's favourite genre is (u - 1) % 6, so users
--            1, 2, 3 like Sci-Fi, Comedy and Drama.  20 to 60 draws a user:
--            70% from the favourite genre, 20% blockbusters, 10% anything;
--            a movie drawn twice is rated once.  One rating a day per user,
--            timestamps (epoch seconds) increasing from 2026-01-01.
--
-- Same shape as the MovieLens-100K tables demo.sh loads with --data:
-- ratings(user_id, item_id, rating, ts) and movies(item_id, title, genres).

CREATE TABLE movies (item_id int PRIMARY KEY, title text NOT NULL, genres text NOT NULL);
CREATE TABLE ratings (user_id int NOT NULL, item_id int NOT NULL, rating int NOT NULL, ts bigint NOT NULL);

CREATE TEMP TABLE genre (g int PRIMARY KEY, name text NOT NULL);
INSERT INTO genre VALUES (0, 'Sci-Fi'), (1, 'Comedy'), (2, 'Drama'), (3, 'Horror'), (4, 'Romance'), (5, 'Documentary');

-- items 1-270: genre g holds items g * 45 + 1 .. g * 45 + 45, most popular first
INSERT INTO movies
SELECT g * 45 + n, name || ' #' || n, name
  FROM genre, generate_series(1, 45) n;
-- items 271-300: blockbusters everybody watches now and then
INSERT INTO movies
SELECT 270 + n, 'Blockbuster #' || n, 'Action|Adventure'
  FROM generate_series(1, 30) n;

-- a uniform draw in [0, 1) from the first 32 bits of an md5
CREATE FUNCTION pg_temp.draw(u int, j int, purpose int) RETURNS float8
LANGUAGE sql IMMUTABLE
RETURN ('x' || substr(md5(u || ':' || j || ':' || purpose), 1, 8))::bit(32)::bigint / 4294967296.0;

INSERT INTO ratings
SELECT DISTINCT ON (user_id, item_id) user_id, item_id, rating, ts
  FROM (SELECT u AS user_id,
               CASE WHEN kind < 0.7 THEN ((u - 1) % 6) * 45 + 1 + floor(45 * pg_temp.draw(u, j, 2) ^ 2)::int
                    WHEN kind < 0.9 THEN 271 + floor(30 * pg_temp.draw(u, j, 3) ^ 2)::int
                    ELSE 1 + floor(300 * pg_temp.draw(u, j, 4))::int END AS item_id,
               CASE WHEN pg_temp.draw(u, j, 5) < 0.4 THEN 5 ELSE 4 END AS rating,
               1767225600 + j * 86400 + u * 60 AS ts
          FROM generate_series(1, 600) u,
               generate_series(1, 60) j,
               LATERAL (SELECT pg_temp.draw(u, j, 1) AS kind) k
         WHERE j <= 20 + floor(41 * pg_temp.draw(u, 0, 0))) draws
 ORDER BY user_id, item_id, ts;

ANALYZE movies, ratings;
