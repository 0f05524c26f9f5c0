#!/usr/bin/python3
"""reference.py: plain NumPy/SciPy references that `make bench` measures in
the same run as the extension (test/scripts/bench.sh calls it).

    reference.py als-time TABLE [--iterations N]
        implicit ALS with conjugate gradient on the (user_id, item_id) rows
        of TABLE, with user-personalization's defaults
    reference.py ease-time GROUP
        EASE (Steck 2019) on the evaluation split of a dataset group and
        then on all of it, as a solution version of recipe ease does
    reference.py ease-quality GROUP
        EASE and ALS on the evaluation split of GROUP, with the metrics
        of SPEC 2.3 computed as src/evaluate.c computes them

Each prints "name value" lines.  The data come from the bench cluster
(PGHOST, PGPORT, PGUSER in the environment): interactions with a binary
COPY, the split from personalize._evaluation_split, which runs the
extension's own hold-out code, so both sides score exactly the same users
and items.  Hyperparameters mirror src/recipe_als.c and src/recipe_ease.c;
change them together.
"""
import argparse
import os
import time

import numpy as np
import psycopg
from psycopg import sql
import scipy.sparse as sp

# user-personalization's defaults (sql/personalize.sql, src/recipe_als.c)
ALS = dict(factors=64, regularization=1.0, alpha=1.0, iterations=15, cg_steps=3, seed=42)
# ease's default lambda
EASE_LAMBDA = 500.0
# both recipes' default recency_half_life: how scoring weighs a held-out
# user's input (events x 0.5 ^ (newer_events / half-life))
RECENCY_HALF_LIFE = 20
CUTOFFS = (5, 10, 25)
TOP = 25


def connect():
    return psycopg.connect(autocommit=True)


def copy_ints(conn, query, columns, spool=None):
    """Rows of `columns` int4 columns of query (a psycopg.sql object), through a binary COPY: one
    int32 array per column, without a Python object per value.  With spool
    (a directory the server can write and we can read; the bench's work
    directory) the server writes the file itself, much faster than a COPY
    TO STDOUT, which hands Python one message per row."""
    if spool:
        path = os.path.join(spool, "reference-%d.copy" % os.getpid())
        conn.execute(sql.SQL("COPY ({}) TO {} (FORMAT binary)").format(query, sql.Literal(path)))
        with open(path, "rb") as f:
            data = f.read()
        os.unlink(path)
    else:
        buf = bytearray()
        with conn.cursor() as cur, cur.copy(sql.SQL("COPY ({}) TO STDOUT (FORMAT binary)").format(query)) as copy:
            for block in copy:
                buf += block
        data = bytes(buf)
    # 19-byte header (signature, flags, extension length), -1 trailer; each
    # row is an int16 field count then (int32 length, int32 value) per field
    row = np.dtype([("n", ">i2")] + [(f"f{c}", ">i4", 2) for c in range(columns)])
    body = np.frombuffer(data[19:-2], dtype=row)
    return [body[f"f{c}"][:, 1].astype(np.int32) for c in range(columns)]


def dense_ids(values):
    """Dense indexes 0..n-1 for arbitrary ids, and n."""
    uniq, index = np.unique(values, return_inverse=True)
    return index.astype(np.int32), len(uniq)


# ---------------------------------------------------------------------------
# Implicit ALS (Hu, Koren and Volinsky 2008) with conjugate gradient (Takacs,
# Pilaszy and Tikk 2011), vectorised over blocks of rows: the same updates as
# src/recipe_als.c (warm-started CG, cg_steps per sweep, c = 1 + alpha count).
# ---------------------------------------------------------------------------

def als_update(counts, other, reg, alpha, cg_steps, x, block_nnz=1 << 18):
    """Update every row of x (rows x k) against the fixed factors other."""
    k = other.shape[1]
    gram = other.T @ other + reg * np.eye(k, dtype=np.float32)
    start = 0
    n_rows = counts.shape[0]
    while start < n_rows:
        # rows of about block_nnz stored entries at a time
        end = int(np.searchsorted(counts.indptr, counts.indptr[start] + block_nnz, side="right")) - 1
        end = min(max(end, start + 1), n_rows)
        block = counts[start:end]
        conf1 = (alpha * block.data).astype(np.float32)		# c - 1
        rows = np.repeat(np.arange(end - start), np.diff(block.indptr))
        y = other[block.indices]							# one row per entry

        def apply(p):
            """(Y^T C_u Y + reg I) p for every row p of the block."""
            d = np.einsum("ij,ij->i", y, p[rows]) * conf1
            return p @ gram + sp.csr_matrix((d, block.indices, block.indptr), shape=block.shape) @ other

        xb = x[start:end]
        b = sp.csr_matrix((conf1 + 1.0, block.indices, block.indptr), shape=block.shape) @ other
        r = b - apply(xb)
        p = r.copy()
        rsold = np.einsum("ij,ij->i", r, r)
        for _ in range(cg_steps):
            active = rsold > 1e-20
            ap = apply(p)
            pap = np.einsum("ij,ij->i", p, ap)
            active &= pap > 0
            a = np.where(active, rsold / np.where(active, pap, 1), 0).astype(np.float32)
            xb += a[:, None] * p
            r -= a[:, None] * ap
            rsnew = np.einsum("ij,ij->i", r, r)
            beta = np.where(active, rsnew / np.where(rsold > 0, rsold, 1), 0).astype(np.float32)
            p = r + beta[:, None] * p
            rsold = np.where(active, rsnew, 0)
        xb[np.diff(block.indptr) == 0] = 0
        x[start:end] = xb
        start = end


def als_fit(counts, iterations, factors, reg, alpha, cg_steps, seed):
    """Item factors (and per-iteration seconds) from a users x items count matrix."""
    rng = np.random.default_rng(seed)
    n_users, n_items = counts.shape
    users = np.zeros((n_users, factors), dtype=np.float32)
    items = (rng.random((n_items, factors)) * 0.01).astype(np.float32)
    by_item = counts.T.tocsr()
    seconds = []
    for _ in range(iterations):
        t = time.perf_counter()
        als_update(counts, items, reg, alpha, cg_steps, users)
        als_update(by_item, users, reg, alpha, cg_steps, items)
        seconds.append(time.perf_counter() - t)
    return items, seconds


def als_fold_in(items, reg, alpha, history, weights):
    """Score the catalogue for a user by solving the user's ALS system exactly."""
    y = items[history]
    c = 1.0 + alpha * weights
    a = items.T @ items + reg * np.eye(items.shape[1]) + (y.T * (c - 1.0)) @ y
    x = np.linalg.solve(a, y.T @ c)
    return items @ x


# ---------------------------------------------------------------------------
# EASE (Steck 2019): B = -P / diag(P) off the diagonal, P = (X^T X + lambda I)^-1
# ---------------------------------------------------------------------------

def ease_fit(binary, lam):
    g = (binary.T @ binary).toarray().astype(np.float64)
    g[np.diag_indices_from(g)] += lam
    p = np.linalg.inv(g)
    b = -p / np.diag(p)
    np.fill_diagonal(b, 0.0)
    return b


# ---------------------------------------------------------------------------
# The evaluation split and the metrics of src/evaluate.c
# ---------------------------------------------------------------------------

class Split:
    """personalize._evaluation_split of a group, as dense arrays."""

    def __init__(self, conn, group, seed=42, spool=None):
        # ids as dense ranks and the role as a number, so a binary COPY of
        # integers carries everything
        query = sql.SQL(
            "SELECT (dense_rank() OVER (ORDER BY user_id))::int - 1, "
            "(dense_rank() OVER (ORDER BY item_id))::int - 1, "
            "CASE role WHEN 'train' THEN 0 WHEN 'input' THEN 1 ELSE 2 END, "
            "events::int, coalesce(newer_events, -1) "
            "FROM personalize._evaluation_split({}, {})").format(sql.Literal(group), sql.Literal(seed))
        self.user, self.item, role, events, self.newer = copy_ints(conn, query, 5, spool)
        self.n_users = int(self.user.max()) + 1 if len(self.user) else 0
        self.n_items = int(self.item.max()) + 1 if len(self.item) else 0
        self.role = np.array(["train", "input", "relevant"])[role]
        self.events = events.astype(np.float64)

    def matrix(self, mask, values):
        return sp.csr_matrix((values[mask], (self.user[mask], self.item[mask])),
                             shape=(self.n_users, self.n_items))

    def train_counts(self):
        return self.matrix(self.role == "train", self.events)

    def train_binary(self):
        return self.matrix(self.role == "train", np.ones_like(self.events))

    def held_out(self):
        """(input items, their weights before recency, newer_events, relevant) per held-out user."""
        rows = np.flatnonzero(self.role != "train")
        order = rows[np.argsort(self.user[rows], kind="stable")]
        bounds = np.flatnonzero(np.diff(self.user[order])) + 1
        for group in np.split(order, bounds):
            inp = group[self.role[group] == "input"]
            rel = group[self.role[group] == "relevant"]
            yield self.item[inp], self.events[inp], self.newer[inp], set(self.item[rel].tolist())


def recency(newer, half_life):
    return np.ones(len(newer)) if half_life <= 0 else 0.5 ** (newer / half_life)


def evaluate(split, score, half_life):
    """Mean precision/recall/NDCG at 5, 10, 25 and MRR at 25 over held-out users."""
    sums = {}
    users = 0
    for history, events, newer, relevant in split.held_out():
        scores = np.asarray(score(history, events * recency(newer, half_life)), dtype=np.float64).copy()
        scores[history] = -np.inf
        finite = np.flatnonzero(np.isfinite(scores))
        # best first; equal scores by item index as src/topk.c does (our
        # dense indexes order ids differently: exact ties are rare)
        top = finite[np.lexsort((finite, -scores[finite]))][:TOP]
        hits = np.array([i in relevant for i in top] + [False] * (TOP - len(top)))
        gains = hits / np.log2(np.arange(TOP) + 2.0)
        first = np.flatnonzero(hits)
        sums["mean_reciprocal_rank_at_25"] = sums.get("mean_reciprocal_rank_at_25", 0) + (1.0 / (first[0] + 1) if len(first) else 0)
        for k in CUTOFFS:
            ideal = (1.0 / np.log2(np.arange(min(len(relevant), k)) + 2.0)).sum()
            for name, value in (("precision_at_%d" % k, hits[:k].sum() / k),
                                ("recall_at_%d" % k, hits[:k].sum() / len(relevant)),
                                ("normalized_discounted_cumulative_gain_at_%d" % k, gains[:k].sum() / ideal)):
                sums[name] = sums.get(name, 0) + value
        users += 1
    return {name: value / users for name, value in sums.items()}, users


# ---------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------

def als_time(args):
    conn = connect()
    t = time.perf_counter()
    query = sql.SQL("SELECT user_id, item_id FROM {}").format(sql.Identifier(*args.table.split(".")))
    user, item = copy_ints(conn, query, 2, args.spool)
    u, n_users = dense_ids(user)
    i, n_items = dense_ids(item)
    counts = sp.csr_matrix((np.ones(len(u), dtype=np.float32), (u, i)), shape=(n_users, n_items))
    counts.sum_duplicates()
    print("read_seconds %.2f" % (time.perf_counter() - t))
    t = time.perf_counter()
    _, seconds = als_fit(counts, args.iterations, ALS["factors"], ALS["regularization"],
                         ALS["alpha"], ALS["cg_steps"], ALS["seed"])
    print("iterations %d" % args.iterations)
    print("fit_seconds %.2f" % (time.perf_counter() - t))
    print("seconds_per_iteration %.3f" % (sum(seconds) / len(seconds)))


def ease_time(args):
    """Read, EASE on the split's training users, score the held-out users,
    EASE on every user: the work of a solution version of recipe ease."""
    conn = connect()
    t = time.perf_counter()
    split = Split(conn, args.group, spool=args.spool)
    print("read_seconds %.2f" % (time.perf_counter() - t))
    t = time.perf_counter()
    b = ease_fit(split.train_binary(), EASE_LAMBDA)
    evaluate(split, lambda h, w: w @ b[h], RECENCY_HALF_LIFE)
    everyone = sp.csr_matrix((np.ones(len(split.user)), (split.user, split.item)),
                             shape=(split.n_users, split.n_items))
    ease_fit(everyone, EASE_LAMBDA)
    print("fit_seconds %.2f" % (time.perf_counter() - t))


def ease_quality(args):
    conn = connect()
    split = Split(conn, args.group, spool=args.spool)
    b = ease_fit(split.train_binary(), EASE_LAMBDA)
    # plain EASE scores the binary history: every input item weighs 1
    plain, users = evaluate(split, lambda h, w: b[h].sum(axis=0), 0)
    recent, _ = evaluate(split, lambda h, w: w @ b[h], RECENCY_HALF_LIFE)
    items, _ = als_fit(split.train_counts(), ALS["iterations"], ALS["factors"], ALS["regularization"],
                       ALS["alpha"], ALS["cg_steps"], ALS["seed"])
    als, _ = evaluate(split, lambda h, w: als_fold_in(items, ALS["regularization"], ALS["alpha"], h, w), RECENCY_HALF_LIFE)
    print("evaluated_users %d" % users)
    for prefix, metrics in (("ease", plain), ("ease_recency", recent), ("als", als)):
        for name, value in sorted(metrics.items()):
            print("%s.%s %.6f" % (prefix, name, value))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("als-time")
    p.add_argument("table")
    p.add_argument("--iterations", type=int, default=ALS["iterations"])
    p.set_defaults(run=als_time)
    p = commands.add_parser("ease-time")
    p.add_argument("group")
    p.set_defaults(run=ease_time)
    p = commands.add_parser("ease-quality")
    p.add_argument("group")
    p.set_defaults(run=ease_quality)
    for p in commands.choices.values():
        p.add_argument("--spool", help="directory for server-side COPY files (the bench's work directory)")
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
