-- demo_data.sql: a generated demo dataset with planted structure, the same
-- on every run (pseudo-randomness comes from hashes, not random()).
--
-- 300 movies in 6 genres of 50; within a genre, popularity falls off as a
-- power law.  600 users, each with a favourite genre (user % 6): 20 to 59
-- ratings a user, three in four from the favourite genre, the rest from
-- anywhere.  One rating a day per user.  Same shape as the MovieLens
-- tables the demo loads: ratings(user_id, item_id, rating, ts) and
-- movies(item_id, title, genre).

CREATE TABLE movies (item_id int PRIMARY KEY, title text NOT NULL, genre text NOT NULL);
CREATE TABLE ratings (user_id int NOT NULL, item_id int NOT NULL, rating int NOT NULL, ts bigint NOT NULL);

INSERT INTO movies
SELECT g * 50 + n + 1,
       (ARRAY['Sci-Fi', 'Comedy', 'Drama', 'Horror', 'Romance', 'Documentary'])[g + 1] || ' #' || (n + 1),
       (ARRAY['Sci-Fi', 'Comedy', 'Drama', 'Horror', 'Romance', 'Documentary'])[g + 1]
  FROM generate_series(0, 5) g, generate_series(0, 49) n;

-- uniform draws in [0, 1) from a hash of (user, position, purpose)
CREATE FUNCTION pg_temp.draw(u int, j int, purpose int) RETURNS float8
LANGUAGE sql IMMUTABLE
RETURN (hashint8((u::int8 * 1000003 + j) * 7 + purpose)::int8 + 2147483648) / 4294967296.0;

INSERT INTO ratings
SELECT u,
       CASE WHEN pg_temp.draw(u, j, 1) < 0.75
            THEN (u % 6) * 50 + floor(50 * pg_temp.draw(u, j, 2) ^ 2)::int + 1
            ELSE floor(300 * pg_temp.draw(u, j, 3) ^ 2)::int + 1 END,
       4,
       1767225600 + j * 86400 + u
  FROM generate_series(1, 600) u,
       generate_series(1, 59) j
 WHERE j <= 20 + floor(40 * pg_temp.draw(u, 0, 4));
