"""`python manage.py benchmark`: the toy's memory lookup next to bare Mem0, on real PostgreSQL,
real Mem0 and gunicorn, printed as a table and written as JSON (core count, versions, each
figure's ratio to bare Mem0).

Runs in its own throw-away database (like the test runner), so the demo data is safe.

* The store: the child's memories (the first ``--through-mem0`` added by ``Memory.add``,
  lemmatized text and history; the rest in the same row layout by COPY), next to
  ``--others`` memories of ``--other-namespaces`` other children (realistic vectors:
  ``memories.bench.load``), and a second store holding the child alone: the two store sizes
  are measured interleaved, in one run.
* Serving: gunicorn with ``gunicorn.conf.py``; the workers × threads the portal ships were
  chosen by the "serving" rows (the candidates, measured one after another).
* Same transport on both sides: memory-context, the Mem0-compatible search and bare Mem0
  search (``memories.bench.bare_wsgi``, behind the same gunicorn) through one asyncio HTTP
  client (``memories.bench.http``): 32 clients (closed loop), a fixed rate (open loop), one
  client; every request a different generated query; recall@5 and @10 against exact ranking.
* ``--scale``: a third store of 2,000,000 memories in 20,000 namespaces (binary COPY), with
  children of 200, 10,000 and 100,000 memories, EXPLAIN ANALYZE of every plan, and a closing
  note on where each plan stops scaling. Without it the run takes some minutes.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection, transaction

from memories.gateway import ListFilter

QUERY_PATHS = ("memory-context", "mem0 search", "bare Mem0")
LEARNED = ListFilter(kinds=("learned",))  # a filter: the list's count is then capped
TURN = 25  # one-client requests in a row to one target
ONE = (1, 4)  # the servers of the one-client runs (two at once: PostgreSQL's connections are shared)


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


class Command(BaseCommand):
    help = "Measure the toy's memory lookup (memory-context, the Mem0-compatible search) next to bare Mem0."

    def add_arguments(self, parser):
        parser.add_argument("--memories", type=int, default=10_000, help="the child's memories")
        parser.add_argument("--through-mem0", type=int, default=200,
                            help="how many of them Memory.add writes (the rest: the same rows by COPY)")
        parser.add_argument("--others", type=int, default=200_000)
        parser.add_argument("--other-namespaces", type=int, default=2_000)
        parser.add_argument("--clients", type=int, default=32)
        parser.add_argument("--requests", type=int, default=960, help="requests per closed-loop run")
        parser.add_argument("--rate", type=float, default=200.0, help="open-loop requests per second")
        parser.add_argument("--seconds", type=float, default=8.0, help="open-loop duration")
        parser.add_argument("--serving", default="1x32,2x8,2x16,3x8",
                            help="gunicorn workers x threads to compare (the first row of each is used after)")
        parser.add_argument("--scale", action="store_true", help="add the 2,000,000-memory scale store")
        parser.add_argument("--scale-memories", type=int, default=2_000_000)
        parser.add_argument("--scale-namespaces", type=int, default=20_000)
        parser.add_argument("--scale-children", default="200,10000,100000", help="the scale store's children")
        parser.add_argument("--output", default=str(settings.VAR_DIR / "benchmark-results.json"))

    # -- set-up ------------------------------------------------------------------------
    def handle(self, *args, **opts):
        self.opts = opts
        self.results: list[dict] = []
        self.explains: dict[str, dict] = {}
        self.notes: list[str] = []
        self.queries_used = 0
        connection.settings_dict["TEST"]["NAME"] = "benchmark_portal"
        old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
        settings.EXPORT_DIR = settings.VAR_DIR / "benchmark_exports"
        from memories import gateway

        gateway.reset_for_tests(gateway.LocalGateway())
        try:
            self.run_all()
        finally:
            gateway.get().close()
            gateway.reset_for_tests(None)
            connection.creation.destroy_test_db(old_name, verbosity=0)
        self.report()

    def run_all(self):
        import numpy as np

        from memories import gateway
        from memories.bench import corpus

        self.gw = gateway.get()
        self.environment()
        self.queries = corpus.queries(60_000, seed=11)
        self.setup_family()
        n = self.opts["memories"]
        self.say(f"Embedding {n:,} memories of the child and a pool of other children's…")
        self.child_texts = corpus.memories(n, seed=7, child="Rahul")
        start = time.perf_counter()
        self.child_vectors = np.asarray(self.gw.embed_many(self.child_texts), dtype=np.float32)
        self.record("seed", "embed the child's memories (ONNX)", time.perf_counter() - start, "s", n=n)
        pool_texts = [t for i, name in enumerate(corpus.NAMES[1:]) for t in corpus.memories(250, seed=500 + i,
                                                                                          child=name)]
        self.pool = np.asarray(self.gw.embed_many(pool_texts), dtype=np.float32)
        self.pool_texts = pool_texts
        self.seed_child(self.child.namespace, self.child_texts, self.child_vectors)
        self.seed_others(self.gw.collection, self.opts["others"], self.opts["other_namespaces"], seed=11)
        self.small = "bench_child_only"
        self.copy_namespace_store(self.small, [self.child.namespace])
        self.analyze(self.gw.collection)
        self.analyze(self.small)

        big = f"+{self.opts['others']:,} others"
        choice = self.measure_serving(big)
        truth = self.child_vectors_from_db(self.child.namespace)
        self.measure_store(big, self.gw.collection, choice, [(f"child of {n:,}", self.child, truth)])
        with self.server("portal.wsgi", self.gw.collection, ONE) as big_url, \
                self.server("portal.wsgi", self.small, ONE) as small_url:
            self.measure_single_client({f"child only ({n:,})": (small_url, self.child),
                                        f"{big} ({n:,})": (big_url, self.child)})
        self.measure_list(big, {self.child.namespace: n})
        if self.opts["scale"]:
            self.measure_scale(choice)
        self.measure_export(big)
        self.measure_delete_all(big)

    def measure_store(self, scenario: str, collection: str, shape: tuple[int, int], children: list):
        """Bare Mem0 on its own server first, then the portal's server: each path at 32
        clients, at the fixed rate, and for recall, per child. (One server at a time: the
        embedded PostgreSQL has 100 connections for everyone.)"""
        queries = {label: {kind: self.fresh_queries(n) for kind, n in (
            ("closed", self.opts["requests"]), ("open", int(self.opts["rate"] * self.opts["seconds"])),
            ("recall", 100))} for label, *_ in children}
        runs: dict[tuple[str, str], dict] = {}
        with self.server("memories.bench.bare_wsgi:application", collection, shape) as url:
            for label, child, _ in children:
                runs[label, "bare Mem0"] = self.run_path("bare Mem0", url, child, queries[label])
            with self.server("portal.wsgi", collection, ONE) as one_url:
                self.measure_single_client({f"{scenario}, {label}": (one_url, child) for label, child, _ in children},
                                           url)
        with self.server("portal.wsgi", collection, shape) as url:
            for label, child, _ in children:
                for path in QUERY_PATHS[:2]:
                    runs[label, path] = self.run_path(path, url, child, queries[label])
        clients, rate = self.opts["clients"], self.opts["rate"]
        for label, _, truth in children:
            bare = runs[label, "bare Mem0"]
            for path in QUERY_PATHS:
                run, name = runs[label, path], f"{scenario}, {label}"
                closed, opened = run["closed"], run["open"]
                self.record(name, f"{path}: throughput, {clients} clients", closed.throughput, "req/s",
                            ratio_to_bare=ratio(closed.throughput, bare["closed"].throughput), errors=closed.errors)
                self.record(name, f"{path}: p95, {clients} clients", closed.percentile(95), "ms",
                            p50_ms=ms(closed.percentile(50)),
                            ratio_to_bare=ratio(closed.percentile(95), bare["closed"].percentile(95)))
                self.record(name, f"{path}: p95 at {rate:g} req/s offered", opened.percentile(95), "ms",
                            p50_ms=ms(opened.percentile(50)), achieved=round(opened.throughput, 1),
                            errors=opened.errors, ratio_to_bare=ratio(opened.percentile(95), bare["open"].percentile(95)))
                for k in (5, 10):
                    self.record(name, f"{path}: recall@{k}", self.recall(path, run["recall"], queries[label]["recall"],
                                                                          truth, k), "ratio")

    def run_path(self, path: str, url: str, child, queries: dict[str, list[str]]) -> dict:
        return {"closed": self.load(path, url, child, queries=queries["closed"]),
                "open": self.load(path, url, child, rate=self.opts["rate"], queries=queries["open"]),
                "recall": self.load(path, url, child, clients=4, keep=True, queries=queries["recall"])}

    def recall(self, path: str, result, queries: list[str], truth, k: int) -> float:
        """recall@k against exact ranking of the child's stored vectors (a tie at the k-th
        score counts as found; a failed request as nothing found)."""
        import numpy as np

        ids, vectors = truth
        qv = np.asarray(self.gw.embed_many(queries), dtype=np.float32)
        recalls = []
        for index, q in enumerate(qv):
            if index not in result.bodies:
                continue
            found = _ids(path, result.bodies[index])[:k]
            scores = vectors @ q
            order = np.argsort(-scores)[:k]
            kth = scores[order[-1]]
            recalls.append(1 - sum(1 for i in order if ids[i] not in found and scores[i] > kth + 1e-5) / k)
        recalls += [0.0] * (len(queries) - len(recalls))
        return statistics.mean(recalls)

    def environment(self):
        from importlib.metadata import version

        import django
        import gunicorn
        import onnxruntime
        import torch

        with connection.cursor() as cur:
            cur.execute("SELECT version(), (SELECT extversion FROM pg_extension WHERE extname = 'vector')")
            pg, vector = cur.fetchone()
        self.env = {
            "cores": os.cpu_count(), "load_average_at_start": os.getloadavg(), "python": platform.python_version(),
            "postgresql": pg.split(" on ")[0], "pgvector": vector, "django": django.get_version(),
            "mem0ai": version("mem0ai"), "onnxruntime": onnxruntime.__version__, "torch": torch.__version__,
            "gunicorn": gunicorn.__version__, "machine": platform.machine(),
        }
        self.say(json.dumps(self.env))

    def setup_family(self):
        from django.contrib.auth.models import User

        from devices import services, tokens

        with transaction.atomic():
            self.parent = User.objects.create_user("bench-parent@example.test", password="bench-password-1")
            self.admin = User.objects.create_user("bench-admin@example.test", is_superuser=True, is_staff=True)
            self.agent = services.agent_save(actor=self.admin, name="Bench", memory_prompt="Keep interests.")
            self.household = services.household_create(name="Bench family", owner=self.parent)
            self.child = self.make_child("Rahul", "be:0c:00:00:00:01")
            _, self.token = tokens.token_create(actor=self.admin, fleet=True, name="bench")

    def make_child(self, name: str, mac: str):
        from devices import consent, services

        child = services.child_create(actor=self.parent, household=self.household, name=name,
                                      birth_date=date(2017, 5, 10), interests=["dinosaurs"])
        consent.consent_record(child=child, purposes=consent.offered_purposes(), signer_name=self.parent.email,
                               granted_by=self.parent, method=consent.SignedForm.key, verified_by=self.admin)
        child.device = services.device_register(actor=self.parent, household=self.household, mac=mac,
                                                name=f"{name}'s robot", child=child, agent=self.agent)
        return child

    # -- loading -----------------------------------------------------------------------
    def admin_conn(self):
        import psycopg

        return psycopg.connect(self.gw.django_dsn(), autocommit=True)

    def seed_child(self, namespace: str, texts: list[str], vectors, collection: str | None = None):
        """The first ``--through-mem0`` memories through ``Memory.add`` (oldest first), the
        rest as the same rows (lemmatized text, ADD history) by COPY, older."""
        from memories.bench import load

        collection = collection or self.gw.collection
        k = min(self.opts["through_mem0"], len(texts)) if collection == self.gw.collection else 0
        _ = self.gw.memory  # built (its torch model loaded) before the clock starts
        start = time.perf_counter()
        if k:
            for chunk in range(0, k, 100):
                part = texts[chunk:chunk + 100]
                self.gw.memory.add([{"role": "user", "content": t} for t in reversed(part)], user_id=namespace,
                                   metadata={"kind": "learned", "category": "interests"}, infer=False)
            self.record("seed", "Memory.add (infer=False), per memory", (time.perf_counter() - start) / k, "ms", n=k)
        rest = list(load.namespace_rows(namespace, texts[k:], vectors[k:],
                                        start=datetime.now(UTC) - timedelta(days=1), kind="learned",
                                        category="interests"))
        with self.admin_conn() as conn:
            load.copy_memories(conn, collection, rest)
            load.copy_history(conn, f"{collection}_mem0_history",
                              [(str(i), namespace, p["data"], datetime.fromisoformat(p["created_at"]))
                               for i, _, p in rest])

    def seed_others(self, collection: str, n: int, spaces: int, *, seed: int):
        """``n`` memories in ``spaces`` namespaces by binary COPY, with the HNSW index dropped
        meanwhile and built once after (as a bulk import would)."""
        import numpy as np

        from memories.bench import load
        from memories.gateway import schema

        if not n:
            return
        self.say(f"Loading {n:,} memories in {spaces:,} other namespaces into {collection}…")
        rng = np.random.default_rng(seed)
        per = max(1, n // spaces)
        start = time.perf_counter()
        with self.admin_conn() as conn:
            conn.execute(f'DROP INDEX IF EXISTS "{collection}_hnsw_idx"')
            # The namespace counts are made once after the load (a statement trigger would
            # hold every loaded row in its transition table).
            conn.execute(f'ALTER TABLE "{collection}" DISABLE TRIGGER "{collection}_ns_inserted"')

            def rows():
                at = datetime.now(UTC) - timedelta(days=30)
                for s in range(spaces):
                    vectors = load.realistic_vectors(self.pool, per, rng)
                    picks = rng.integers(0, len(self.pool_texts), per)
                    ns = f"child_{uuid.UUID(int=rng.integers(0, 2**62).item() << 64 | s).hex}"
                    for i in range(per):
                        yield uuid.uuid4(), vectors[i], load.payload(ns, self.pool_texts[picks[i]],
                                                                     at - timedelta(seconds=i), kind="learned")

            load.copy_memories(conn, collection, rows())
            conn.execute(f'ALTER TABLE "{collection}" ENABLE TRIGGER "{collection}_ns_inserted"')
            schema.count_namespaces(conn.cursor(), collection)
        self.record("seed", f"COPY {n:,} memories ({collection})", time.perf_counter() - start, "s")
        self.build_hnsw(collection)

    def build_hnsw(self, collection: str):
        start = time.perf_counter()
        with self.admin_conn() as conn:
            conn.execute("SET maintenance_work_mem = '6GB'")
            conn.execute("SET max_parallel_maintenance_workers = 1")
            conn.execute(f'CREATE INDEX IF NOT EXISTS "{collection}_hnsw_idx" ON "{collection}" '
                         "USING hnsw (vector vector_cosine_ops)")
        self.record("seed", f"build the HNSW index ({collection})", time.perf_counter() - start, "s")

    def copy_namespace_store(self, collection: str, namespaces: list[str]):
        """A second store (its own Mem0 tables) holding only these namespaces' rows."""
        from memories.gateway import schema

        with self.admin_conn() as conn:
            schema.apply(conn.cursor(), collection, settings.MEM0_EMBEDDING_DIMS)
            conn.execute(f'INSERT INTO "{collection}" SELECT * FROM "{self.gw.collection}" '
                         "WHERE payload->>'user_id' = ANY(%s)", [namespaces])

    def analyze(self, collection: str):
        """VACUUM ANALYZE after a bulk load, as autovacuum would soon after."""
        with self.admin_conn() as conn:
            conn.execute(f'VACUUM ANALYZE "{collection}"')

    def child_vectors_from_db(self, namespace: str, collection: str | None = None):
        """The child's (ids, vectors) as stored: the ground truth of exact ranking."""
        import numpy as np
        from pgvector.psycopg import register_vector

        with self.admin_conn() as conn:
            register_vector(conn)
            rows = conn.execute(f'SELECT id::text, vector FROM "{collection or self.gw.collection}" '
                                "WHERE payload->>'user_id' = %s", [namespace]).fetchall()
        return [r[0] for r in rows], np.stack([r[1].to_numpy() for r in rows]).astype(np.float32)

    # -- serving -----------------------------------------------------------------------
    @contextmanager
    def server(self, app: str, collection: str, shape: tuple[int, int]):
        import socket

        from memories.bench.http import wait_until_up
        from portal.processes import BASE_DIR, database_url

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        env = {**os.environ, "DATABASE_URL": database_url(), "SECRET_KEY": settings.SECRET_KEY, "DEBUG": "false",
               "ALLOWED_HOSTS": "127.0.0.1", "SECURE_SSL_REDIRECT": "false", "MEM0_COLLECTION": collection,
               "CELERY_BROKER_URL": settings.CELERY_BROKER_URL, "WEB_BIND": f"127.0.0.1:{port}",
               "WEB_CONCURRENCY": str(shape[0]), "WEB_THREADS": str(shape[1])}
        gunicorn = Path(sys.executable).with_name("gunicorn")
        process = subprocess.Popen([str(gunicorn), "-c", "gunicorn.conf.py", "--log-level", "warning", app],
                                   cwd=BASE_DIR, env=env)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(f"{base}/search" if "bare" in app else f"{base}/api/v1/openapi.json",
                          alive=lambda: process.poll() is None)
            self.warm(base, app)
            yield base
        finally:
            process.terminate()
            process.wait(60)

    def warm(self, base: str, app: str):
        """Every worker thread has answered once (connections, imports) before measuring."""
        from memories.bench import corpus, http

        warm = [self.request("bare" if "bare" in app else "memory-context", q, self.child)
                for q in corpus.queries(64, seed=999)]
        http.closed_loop(base, warm, clients=16, headers=self.headers("bare" if "bare" in app else "portal"))

    def headers(self, side: str) -> dict[str, str]:
        return {} if side == "bare" else {"Authorization": f"Bearer {self.token}"}

    def request(self, path: str, query: str, child, limit: int = 10):
        if path == "memory-context":
            return ("GET", f"/api/v1/devices/{child.device.mac}/memory-context?query={quote(query)}&limit={limit}",
                    None)
        if path == "mem0 search":
            body = {"query": query, "filters": {"user_id": child.device.mac}, "top_k": limit}
            return "POST", "/api/v1/mem0/v3/memories/search/", json.dumps(body).encode()
        return "GET", f"/search?user_id={child.namespace}&query={quote(query)}&limit={limit}", None

    def fresh_queries(self, n: int) -> list[str]:
        """Queries no earlier request of this run asked (no cache can have them)."""
        out = self.queries[self.queries_used:self.queries_used + n]
        self.queries_used += n
        if len(out) < n:
            raise RuntimeError("ran out of generated queries")
        return out

    def load(self, path: str, url: str, child, *, rate: float | None = None, n: int | None = None,
             clients: int | None = None, keep: bool = False, queries: list[str] | None = None):
        from memories.bench import http

        side = "bare" if path == "bare Mem0" else "portal"
        if queries is None:
            n = n or (int(rate * self.opts["seconds"]) if rate else self.opts["requests"])
            queries = self.fresh_queries(n)
        requests = [self.request(path, q, child) for q in queries]
        if rate:
            return http.open_loop(url, requests, rate=rate, headers=self.headers(side))
        return http.closed_loop(url, requests, clients=clients or self.opts["clients"], headers=self.headers(side),
                                keep_bodies=keep)

    def measure_serving(self, scenario: str) -> tuple[int, int]:
        """memory-context at 32 clients under each gunicorn shape; the best one is used after."""
        shapes = [tuple(int(x) for x in s.split("x")) for s in self.opts["serving"].split(",")]
        best, best_rate = shapes[0], -1.0
        for shape in shapes:
            with self.server("portal.wsgi", self.gw.collection, shape) as url:
                result = self.load("memory-context", url, self.child)
            self.record("serving", f"memory-context, {shape[0]} workers x {shape[1]} threads", result.throughput,
                        "req/s", p95_ms=ms(result.percentile(95)), errors=result.errors)
            if result.throughput > best_rate:
                best, best_rate = shape, result.throughput
        self.record("serving", "chosen: workers x threads", best[0] * 100 + best[1], "shape",
                    workers=best[0], threads=best[1])
        return best

    def measure_single_client(self, stores: dict[str, tuple[str, object]], bare_url: str | None = None,
                              n: int = 200):
        """One client, in turns of ``TURN`` requests in a row to each target (memory-context and
        the Mem0-compatible search of each store, and bare Mem0), the turns going round: the
        sizes are measured in one run, seconds apart. A turn is what one toy's conversation
        sends. A request-by-request alternation is measured too (``p50_alternating_ms``, n/2
        per target): there bare Mem0's torch pass runs on the same 2 cores between every two
        of the portal's requests and evicts their caches, which no deployment does."""

        targets = [(f"{path}, {name}" if path != "memory-context" else name, url, child, path)
                   for name, (url, child) in stores.items() for path in QUERY_PATHS[:2]]
        if bare_url:
            first_name, (_, first_child) = next(iter(stores.items()))
            targets.append((f"bare Mem0, {first_name}", bare_url, first_child, "bare Mem0"))
        order = [t for _ in range(n // TURN) for t in targets for _ in range(TURN)]
        turns = self.one_by_one(order)
        alternating = self.one_by_one([t for _ in range(n // 2) for t in targets])
        for name, result in turns.items():
            self.record("one client", f"{name}: p50", result.percentile(50), "ms",
                        p95_ms=ms(result.percentile(95)), errors=result.errors + alternating[name].errors,
                        p50_alternating_ms=ms(alternating[name].percentile(50)))

    def one_by_one(self, order: list[tuple]) -> dict:
        """Each (name, url, child, path) of ``order`` asked in turn, a fresh query each: the
        latencies by name."""
        from memories.bench import http

        queries = iter(self.fresh_queries(len(order)))
        calls = [(url, self.request(path, next(queries), child), self.headers("bare" if path == "bare Mem0" else "portal"))
                 for _, url, child, path in order]
        results = {name: http.Result() for name, *_ in order}
        for (name, *_), latency in zip(order, http.one_by_one(calls), strict=True):
            if latency is None:
                results[name].errors += 1
            else:
                results[name].latencies.append(latency)
        return results

    # -- the parent's list -------------------------------------------------------------
    def measure_list(self, scenario: str, children: dict[str, int], collection: str | None = None):
        """Page 1 and the count of the parent's list, as SQL (EXPLAIN ANALYZE execution time,
        the median of three runs; the first run's too), and page 1 through the gateway."""
        from memories.gateway import LocalGateway
        from memories.selectors import COUNT_LIMIT, PAGE_SIZE

        gw = self.gw if collection is None else LocalGateway(collection=collection)
        try:
            for namespace, size in children.items():
                for label, fn in (("list page 1", lambda ns=namespace: gw.list_sql(ns, limit=PAGE_SIZE + 1)),
                                  ("count (namespaces row)", lambda ns=namespace: gw.count_sql(ns)),
                                  ("count with a filter, up to 1,000",
                                   lambda ns=namespace: gw.count_sql(ns, flt=LEARNED, limit=COUNT_LIMIT))):
                    sql, params = fn()
                    runs = [self.explain(sql, params, collection) for _ in range(3)]
                    plan, ms_exec = sorted(runs, key=lambda run: run[1])[1]  # the median of three
                    self.explains[f"{scenario}: {label} ({size:,})"] = {"ms": ms_exec, "plan": plan,
                                                                          "runs_ms": [run[1] for run in runs]}
                    self.record(scenario, f"{label} SQL, child of {size:,}", ms_exec / 1000, "ms",
                                first_ms=runs[0][1])
                times = []
                for _ in range(6):  # the first builds the gateway's pool: not counted
                    start = time.perf_counter()
                    gw.list([namespace], limit=PAGE_SIZE + 1, flt=ListFilter(), count_limit=COUNT_LIMIT)
                    times.append(time.perf_counter() - start)
                self.record(scenario, f"gateway list page 1 (as the page asks), child of {size:,}",
                            statistics.median(times[1:]), "ms", first_ms=ms(times[0]))
        finally:
            if gw is not self.gw:
                gw.close()

    def explain(self, sql: str, params: list, collection: str | None = None, settings_sql: str = ""):
        with self.admin_conn() as conn:
            with conn.transaction():
                if settings_sql:
                    conn.execute(settings_sql)
                rows = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params).fetchall()
        plan = "\n".join(r[0] for r in rows)
        execution = next((float(line.split(":")[1].split()[0]) for line in plan.splitlines()
                          if line.strip().startswith("Execution Time")), float("nan"))
        return plan, execution

    # -- the scale row -----------------------------------------------------------------
    def measure_scale(self, shape: tuple[int, int]):
        import numpy as np

        from memories.bench import corpus, load
        from memories.gateway import schema

        collection = "bench_scale"
        total, spaces = self.opts["scale_memories"], self.opts["scale_namespaces"]
        sizes = [int(x) for x in self.opts["scale_children"].split(",")]
        scenario = f"scale: {total:,} in {spaces:,} namespaces"
        with self.admin_conn() as conn:
            schema.apply(conn.cursor(), collection, settings.MEM0_EMBEDDING_DIMS)
            conn.execute(f'DROP INDEX IF EXISTS "{collection}_hnsw_idx"')
        children = []
        rng = np.random.default_rng(5)
        for i, size in enumerate(sizes):
            child = self.make_child(f"Scale{size}", f"be:0c:00:00:01:{i:02x}")
            texts = corpus.memories(size, seed=40 + i, child=child.name)
            base = np.asarray(self.gw.embed_many(texts[:5_000]), dtype=np.float32)
            vectors = base if size <= len(base) else np.concatenate(
                [base, load.realistic_vectors(base, size - len(base), rng)])
            with self.admin_conn() as conn:
                load.copy_memories(conn, collection, load.namespace_rows(child.namespace, texts, vectors,
                                                                        kind="learned"))
            children.append(child)
        self.seed_others(collection, total - sum(sizes), spaces - len(sizes), seed=13)
        self.analyze(collection)
        self.measure_store(scenario, collection, shape, [
            (f"child of {int(c.name[5:]):,}", c, self.child_vectors_from_db(c.namespace, collection)) for c in children])
        self.measure_list(scenario, {c.namespace: int(c.name[5:]) for c in children}, collection)
        self.explain_search(scenario, collection, children)

    def explain_search(self, scenario: str, collection: str, children):
        """EXPLAIN ANALYZE of the exact ranking and of the HNSW candidates, per child size."""
        from memories.gateway import local

        gw = local.LocalGateway(collection=collection)
        query = self.fresh_queries(1)[0]
        vector = local._vector_literal(self.gw.embed(query))
        try:
            for child in children:
                size = int(child.name[5:])
                where, params = gw._where([child.namespace], None)
                exact = (f'SELECT id, 1 - distance FROM (SELECT id, payload, vector <=> %s::vector AS distance '
                         f'FROM "{collection}" WHERE {where} OFFSET 0) AS scoped ORDER BY distance LIMIT 10')
                hnsw = (f'SELECT id, 1 - (vector <=> %s::vector) FROM "{collection}" WHERE {where} '
                        "ORDER BY vector <=> %s::vector LIMIT %s")
                for label, sql, args, setup in (
                        ("exact ranking", exact, [vector, *params], ""),
                        ("HNSW candidates", hnsw, [vector, *params, vector, local.CANDIDATES],
                         gw.hnsw_settings(local.CANDIDATES))):
                    plan, ms_exec = self.explain(sql, args, collection, setup)
                    self.explains[f"{scenario}: {label} ({size:,})"] = {"ms": ms_exec, "plan": plan}
                    self.record(scenario, f"{label} SQL, child of {size:,}", ms_exec / 1000, "ms")
                query_vector = self.gw.embed(query)
                for label in ("vector copy: load and rank", "vector copy: rank (warm)"):
                    start = time.perf_counter()
                    found = gw._search_copy(child.namespace, query_vector, 10, None)
                    self.record(scenario, f"{label}, child of {size:,}", time.perf_counter() - start, "ms",
                                used=found is not None)
        finally:
            gw.close()

    # -- the rest of the parent's side ---------------------------------------------------
    def measure_export(self, scenario):
        """The streamed JSON export: time and peak Python memory (flat, not per memory)."""
        import tracemalloc

        from memories import exports

        tracemalloc.start()
        start = time.perf_counter()
        size = sum(len(chunk) for chunk in exports.json_chunks(self.child))
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        self.record(scenario, "JSON export (streamed)", elapsed, "s", mb=round(size / 2**20, 1),
                    peak_mb=round(peak / 2**20, 1))

    def measure_delete_all(self, scenario):
        """Delete-all as the parent starts it, run to the end, then count leftovers."""
        from memories import services

        with transaction.atomic():
            job = services.memories_delete_all(actor=self.parent, child=self.child, confirmation=self.child.name,
                                               grace_seconds=0)  # measured without the parent's undo window
        start = time.perf_counter()
        services.job_run(job.pk)
        elapsed = time.perf_counter() - start
        learned = self.gw.count([self.child.namespace], exclude_kinds=["child_profile"])
        self.record(scenario, "delete all", elapsed, "s", memories=self.opts["memories"], left_learned=learned)

    # -- output ------------------------------------------------------------------------
    def say(self, text: str):
        self.stdout.write(text)
        self.stdout.flush()

    def record(self, scenario, name, value, unit, **extra):
        shown = ms(value) if unit == "ms" else round(value, 3)
        row = {"scenario": scenario, "metric": name, "value": shown, "unit": unit,
               **{k: (round(v, 3) if isinstance(v, float) else v) for k, v in extra.items()}}
        self.results.append(row)
        self.say(f"  {scenario:>34} | {name:<52} {shown:>10} {unit} "
                 + " ".join(f"{k}={row[k]}" for k in extra))

    def targets(self) -> list[dict]:
        """Issue 10's targets, each next to what this run measured on the main store."""
        rows = {(r["scenario"], r["metric"]): r for r in self.results}
        main = next((r["scenario"] for r in self.results if r["metric"].startswith("memory-context: throughput")), None)
        if main is None:
            return []
        clients = self.opts["clients"]
        out = []

        def check(what, value, ok):
            out.append({"target": what, "measured": value, "met": bool(ok)})

        for path in QUERY_PATHS[:2]:
            through = rows.get((main, f"{path}: throughput, {clients} clients"), {})
            p95 = rows.get((main, f"{path}: p95, {clients} clients"), {})
            recall = rows.get((main, f"{path}: recall@10"), {})
            check(f"{path}: >= 200 req/s at {clients} clients", through.get("value"), (through.get("value") or 0) >= 200)
            check(f"{path}: >= 5x bare Mem0's throughput", through.get("ratio_to_bare"),
                  (through.get("ratio_to_bare") or 0) >= 5)
            check(f"{path}: p95 <= 200 ms at {clients} clients", p95.get("value"), (p95.get("value") or 1e9) <= 200)
            check(f"{path}: recall@10 = 1.0", recall.get("value"), recall.get("value") == 1.0)
        size = f"{self.opts['memories']:,}"  # the child; other sizes are reported, not targets
        singles = [r for r in self.results if r["scenario"] == "one client" and not r["metric"].startswith("bare")
                   and (f"child of {size}:" in r["metric"] or f"({size}):" in r["metric"])]
        for row in singles:
            check(f"one client p50 <= 10 ms ({row['metric'].removesuffix(': p50')})", row["value"], row["value"] <= 10)
        pages = [r for r in self.results if r["metric"].startswith("list page 1 SQL")]
        if pages:
            worst = max(pages, key=lambda r: r["value"])
            check(f"{worst['metric']} <= 5 ms ({worst['scenario']})", worst["value"], worst["value"] <= 5)
        return out

    def report(self):
        self.closing_note()
        self.say("\n" + "=" * 120)
        self.say(f"{'scenario':>34} | {'metric':<52} {'value':>10} unit  extra")
        self.say("-" * 120)
        for row in self.results:
            extra = " ".join(f"{k}={v}" for k, v in row.items() if k not in ("scenario", "metric", "value", "unit"))
            self.say(f"{row['scenario']:>34} | {row['metric']:<52} {row['value']:>10} {row['unit']:<5} {extra}")
        for note in self.notes:
            self.say(f"note: {note}")
        targets = self.targets()
        self.say("\nTargets (issue 10):")
        for row in targets:
            self.say(f"  {'met   ' if row['met'] else 'MISSED'} {row['target']:<70} {row['measured']}")
        out = Path(self.opts["output"])
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"when": time.strftime("%Y-%m-%dT%H:%M:%S"), "environment": self.env,
                                   "options": {k: v for k, v in self.opts.items() if k != "output"},
                                   "results": self.results, "targets": targets, "explain": self.explains,
                                   "notes": self.notes},
                                  indent=2))
        self.say(f"\nWritten to {out}")

    def closing_note(self):
        """Where each plan stops scaling, from the EXPLAIN rows."""
        by_plan: dict[str, list[tuple[int, float]]] = {}
        for key, value in self.explains.items():
            label, size = key.rsplit(" (", 1)
            scenario, _, plan = label.rpartition(": ")
            by_plan.setdefault(f"{scenario}: {plan}", []).append((int(size.rstrip(")").replace(",", "")),
                                                                  value["ms"]))
        for plan, points in sorted(by_plan.items()):
            points.sort()
            shown = ", ".join(f"{ms_:.2f} ms at {size:,}" for size, ms_ in points)
            growth = ""
            if len(points) > 1 and points[0][1] > 0:
                growth = f" (x{points[-1][1] / points[0][1]:.0f} for x{points[-1][0] / points[0][0]:.0f} rows)"
            self.notes.append(f"{plan}: {shown}{growth}")


def ratio(value: float, bare: float) -> float | None:
    return round(value / bare, 2) if bare else None


def _ids(path: str, body: dict) -> list[str]:
    if path == "memory-context":
        return [i["id"] for i in sorted(body["items"], key=lambda i: -(i["score"] or 0))]
    if path == "mem0 search":
        return [r["id"] for r in body["results"]]
    return list(body["results"])
