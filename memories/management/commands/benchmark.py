"""`python manage.py benchmark`: the speed and memory targets, measured on real PostgreSQL
and real Mem0, printed as a table and written as JSON.

Runs in its own throw-away database (like the test runner), so the demo data is safe.
Two scenarios: the child's memories alone in the store, then the same child next to
200,000 memories across 2,000 other namespaces (synthetic vectors)."""

import json
import os
import random
import statistics
import time
from datetime import date
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.test import Client

WORDS = {
    "animals": ["dinosaurs", "the T-rex", "cats", "puppies", "sharks", "owls", "elephants", "penguins"],
    "things": ["football", "drawing", "space rockets", "trains", "lego", "painting", "volcanoes", "robots"],
    "friends": ["Arjun", "Maya", "Leo", "Zara", "Omar", "Ivy", "Noah", "Priya"],
    "feelings": ["happy", "sad", "scared", "excited", "proud", "nervous"],
    "times": ["on Saturdays", "after school", "before bed", "in the morning", "at lunch"],
}
TEMPLATES = [
    "Rahul likes {animals} and talks about {things}",
    "Rahul's friend {friends} plays {things} with him {times}",
    "Rahul felt {feelings} about {things} {times}",
    "Rahul wants to learn about {animals}",
    "Rahul goes to {things} practice {times}",
    "Rahul told the toy he is {feelings} when {friends} visits",
]
QUERIES = ["which animals does he like", "who are his friends", "what does he do on weekends",
           "how does he feel at bedtime", "what sport does he play", "what does he want to learn",
           "space and rockets", "is he scared of anything", "drawing and painting", "trains and robots"]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def timed(fn, repeat: int = 5):
    """Median wall time in seconds over ``repeat`` runs, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


class Command(BaseCommand):
    help = "Measure list, search, export, delete, profile push and toy API speed on real Mem0."

    def add_arguments(self, parser):
        parser.add_argument("--memories", type=int, default=10_000)
        parser.add_argument("--others", type=int, default=200_000)
        parser.add_argument("--other-namespaces", type=int, default=2_000)
        parser.add_argument("--output", default=str(settings.VAR_DIR / "benchmark-results.json"))
        parser.add_argument("--skip-http", action="store_true", help="skip the gunicorn memory-context run")

    def handle(self, *args, **opts):
        self.opts = opts
        self.results: list[dict] = []
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

    # -- the runs --------------------------------------------------------------------
    def run_all(self):
        from memories import gateway

        self.gw = gateway.get()
        self.setup_family()
        self.stdout.write(f"Embedding {self.opts['memories']} memories with MiniLM…")
        rng = random.Random(7)
        self.texts = [rng.choice(TEMPLATES).format(**{k: rng.choice(v) for k, v in WORDS.items()}) + f" (#{i})"
                      for i in range(self.opts["memories"])]
        start = time.perf_counter()
        self.vectors = self.gw.embed_many(self.texts)
        self.record("seed", "embed child memories", time.perf_counter() - start, "s", n=len(self.texts))
        self.seed_child()
        self.measure_scenario("child only")
        self.measure_push()
        if not self.opts["skip_http"]:
            self.measure_memory_context("child only")
        if self.opts["others"]:
            self.seed_others()
            self.measure_scenario(f"+{self.opts['others']:,} others")
            if not self.opts["skip_http"]:
                self.measure_memory_context(f"+{self.opts['others']:,} others")
        self.measure_delete_all("final store")

    def setup_family(self):
        from django.contrib.auth.models import User

        from devices import services

        with transaction.atomic():
            self.parent = User.objects.create_user("bench-parent@example.test", password="bench-password-1")
            admin = User.objects.create_user("bench-admin@example.test", is_superuser=True, is_staff=True)
            self.agent = services.agent_save(actor=admin, name="Bench", memory_prompt="Keep interests.")
            household = services.household_create(name="Bench family", owner=self.parent)
            self.child = services.child_create(actor=self.parent, household=household, name="Rahul",
                                               birth_date=date(2017, 5, 10), interests=["dinosaurs"])
            self.device = services.device_register(actor=self.parent, household=household,
                                                   mac="be:0c:00:00:00:01",
                                                   name="Bench robot", child=self.child, agent=self.agent)
        self.ns = self.device.namespace
        self.client = Client()
        self.client.force_login(self.parent)

    def seed_child(self):
        start = time.perf_counter()
        self.gw.bulk_insert(self.ns, self.texts, vectors=self.vectors, metadata={"category": "interests"})
        self.settle()
        self.record("seed", "insert child memories", time.perf_counter() - start, "s", n=len(self.texts))

    def seed_others(self):
        import numpy as np

        n, spaces = self.opts["others"], self.opts["other_namespaces"]
        per = max(1, n // spaces)
        self.stdout.write(f"Inserting {n:,} synthetic memories in {spaces:,} namespaces…")
        rng = np.random.default_rng(11)
        start = time.perf_counter()
        with self.gw._cursor(commit=True) as cur:
            cur.execute(f'DROP INDEX IF EXISTS "{self.gw.collection}_hnsw_idx"')
        for s in range(spaces):
            vectors = rng.standard_normal((per, 384)).astype("float32")
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            self.gw.bulk_insert(f"other-{s:05d}", [f"synthetic memory {s}-{i}" for i in range(per)],
                                vectors=vectors.tolist())
        load = time.perf_counter() - start
        start = time.perf_counter()
        with self.gw._cursor(commit=True) as cur:
            cur.execute("SET maintenance_work_mem = '1GB'")
            cur.execute(f'CREATE INDEX "{self.gw.collection}_hnsw_idx" ON "{self.gw.collection}" '
                        "USING hnsw (vector vector_cosine_ops)")
        self.settle()
        self.record("seed", "insert other namespaces", load, "s", n=per * spaces)
        self.record("seed", "rebuild HNSW index", time.perf_counter() - start, "s")

    def settle(self):
        """VACUUM ANALYZE after a bulk load, as autovacuum would do soon after: measurements
        then see the store in its steady state, not a vacuum running beside them."""
        import psycopg

        dsn = self.gw.config()["vector_store"]["config"]["connection_string"]
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'VACUUM ANALYZE "{self.gw.collection}"')

    def measure_scenario(self, scenario):
        total = self.opts["memories"]
        url = f"/children/{self.child.pk}/memories/"
        last_page = -(-total // 50)
        self.client.get(url)  # warm caches (categories, model)
        first, resp = timed(lambda: self.client.get(url))
        assert resp.status_code == 200, resp.status_code
        last, resp = timed(lambda: self.client.get(f"{url}?page={last_page}"))
        bare, listed = timed(lambda: self.gw.memory.get_all(filters={"user_id": self.ns}, top_k=total + 100), 3)
        assert len(listed["results"]) >= total
        self.record(scenario, "list page 1 (server)", first, "ms", ratio_to_bare=first / bare)
        self.record(scenario, f"list page {last_page} (server)", last, "ms", ratio_to_bare=last / bare)
        self.record(scenario, "bare Mem0 get_all (all rows)", bare, "ms")
        gw_page, _ = timed(lambda: self.gw.list([self.ns], offset=(last_page - 1) * 50, limit=50))
        self.record(scenario, "gateway list, last page", gw_page, "ms")

        search_page, resp = timed(lambda: self.client.get(url, {"q": QUERIES[0], "mode": "semantic"}))
        self.record(scenario, "search page (server)", search_page, "ms")
        ours = [timed(lambda q=q: self.gw.search([self.ns], q, limit=10), 1)[0] for q in QUERIES]
        bare_search = [timed(lambda q=q: self.gw.memory.search(q, filters={"user_id": self.ns}, top_k=10), 1)[0]
                       for q in QUERIES]
        self.record(scenario, "search (gateway, median)", statistics.median(ours), "ms",
                    ratio_to_bare=statistics.median(ours) / statistics.median(bare_search))
        self.record(scenario, "bare Mem0 search (median)", statistics.median(bare_search), "ms")
        self.measure_recall(scenario)
        self.measure_export(scenario)

    def measure_recall(self, scenario):
        """Recall@10 against exact ranking of the child's own vectors."""
        import numpy as np
        import psycopg

        matrix = np.array(self.vectors, dtype="float32")
        ids = {}
        for record in self.gw.iter_all([self.ns]):
            ids[record.text] = record.id
        id_list = [ids[t] for t in self.texts]
        recalls = {"portal search": [], "Mem0 search (iterative scan on)": [],
                   "Mem0 search (iterative scan off)": []}
        off = psycopg.connect(self.gw.config()["vector_store"]["config"]["connection_string"])
        off.execute("SET hnsw.iterative_scan = off")
        for q in QUERIES:
            qv = np.array(self.gw.embed(q), dtype="float32")
            truth = {id_list[i] for i in np.argsort(-(matrix @ qv))[:10]}
            recalls["portal search"].append(len(truth & {r.id for r in self.gw.search([self.ns], q, limit=10)}) / 10)
            got = self.gw.memory.search(q, filters={"user_id": self.ns}, top_k=10)["results"]
            recalls["Mem0 search (iterative scan on)"].append(len(truth & {r["id"] for r in got}) / 10)
            rows = off.execute(
                f"SELECT id FROM \"{self.gw.collection}\" WHERE payload->>'user_id' = %s "
                "ORDER BY vector <=> %s::vector LIMIT 10",
                [self.ns, "[" + ",".join(map(str, qv.tolist())) + "]"],
            ).fetchall()
            recalls["Mem0 search (iterative scan off)"].append(len(truth & {str(r[0]) for r in rows}) / 10)
        off.close()
        for name, values in recalls.items():
            self.record(scenario, f"recall@10: {name}", statistics.mean(values), "ratio")

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
        """Delete-all as the parent starts it (a job), run to the end, then count leftovers."""
        from memories import services

        with transaction.atomic():
            job = services.memories_delete_all(actor=self.parent, child=self.child, confirmation=self.child.name,
                                               grace_seconds=0)  # measured without the parent's undo window
        start = time.perf_counter()
        services.job_run(job.pk)
        elapsed = time.perf_counter() - start
        left = self.gw.traces(self.ns, marker="Rahul")
        learned = self.gw.count([self.ns], exclude_kinds=["child_profile"])
        self.record(scenario, "delete all", elapsed, "s", memories=self.opts["memories"], left_learned=learned,
                    left_marker_history=left["marker_history"], left_messages=left["messages"])

    def measure_push(self):
        """Profile save → the new text visible in Mem0, through a real worker."""
        from devices import services
        from memories.gateway import PROFILE_KIND, ListFilter
        from portal.celery import app
        from portal.processes import CeleryWorker

        queue = "benchmark"
        app.conf.task_default_queue = queue
        worker = CeleryWorker(queue)
        latencies = []
        try:
            for i in range(10):
                marker = f"kite{i}"
                start = time.perf_counter()
                with transaction.atomic():
                    services.child_update(actor=self.parent, child=self.child, interests=["dinosaurs", marker])
                while time.perf_counter() - start < 60:
                    items = self.gw.list([self.ns], flt=ListFilter(kinds=(PROFILE_KIND,))).items
                    if items and marker in items[0].text:
                        break
                    time.sleep(0.02)
                latencies.append(time.perf_counter() - start)
        finally:
            worker.stop()
        self.record("child only", "profile push p50 (save → in Mem0)", statistics.median(latencies), "ms")
        self.record("child only", "profile push max", max(latencies), "ms", n=len(latencies))

    def measure_memory_context(self, scenario, clients: int = 32, per_client: int = 20):
        """memory-context over HTTP on gunicorn with 32 concurrent clients, next to bare
        Mem0 search on the same data with the same concurrency."""
        import socket
        import subprocess
        import sys
        import urllib.request
        from concurrent.futures import ThreadPoolExecutor

        from devices import tokens
        from portal.processes import BASE_DIR, database_url

        _, raw = tokens.token_create(actor=None, fleet=True, name=f"bench {scenario}")
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        env = {"DATABASE_URL": database_url(), "SECRET_KEY": settings.SECRET_KEY, "DEBUG": "false",
               "ALLOWED_HOSTS": "127.0.0.1", "SECURE_SSL_REDIRECT": "false",
               "CELERY_BROKER_URL": settings.CELERY_BROKER_URL}
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "portal.wsgi", "-b", f"127.0.0.1:{port}", "-w", "2",
             "--threads", "8", "--log-level", "warning"],
            cwd=BASE_DIR, env={**os.environ, **env},
        )
        base = f"http://127.0.0.1:{port}/api/v1/devices/{self.ns}/memory-context"

        def call(i):
            query = urllib.request.quote(QUERIES[i % len(QUERIES)])
            req = urllib.request.Request(f"{base}?query={query}&limit=10", headers={"Authorization": f"Bearer {raw}"})
            start = time.perf_counter()
            with urllib.request.urlopen(req, timeout=60) as resp:
                assert resp.status == 200
                resp.read()
            return time.perf_counter() - start

        def load(fn):
            with ThreadPoolExecutor(clients) as pool:
                start = time.perf_counter()
                latencies = list(pool.map(fn, range(clients * per_client)))
                return latencies, clients * per_client / (time.perf_counter() - start)

        try:
            deadline = time.time() + 120
            while True:
                try:
                    [call(i) for i in range(2 * 8)]  # every worker thread warm
                    break
                except OSError:
                    if time.time() > deadline or server.poll() is not None:
                        raise
                    time.sleep(1)
            latencies, throughput = load(call)
        finally:
            server.terminate()
            server.wait(30)

        def bare(i):
            start = time.perf_counter()
            self.gw.memory.search(QUERIES[i % len(QUERIES)], filters={"user_id": self.ns}, top_k=10)
            return time.perf_counter() - start

        bare_latencies, bare_throughput = load(bare)
        for name, values, rate in (("memory-context over HTTP", latencies, throughput),
                                   ("bare Mem0 search, in process", bare_latencies, bare_throughput)):
            self.record(scenario, f"{name} p50 ({clients} clients)", percentile(values, 50), "ms")
            self.record(scenario, f"{name} p95 ({clients} clients)", percentile(values, 95), "ms")
            self.record(scenario, f"{name} throughput", rate, "req/s")

    # -- output ----------------------------------------------------------------------
    def record(self, scenario, name, value, unit, **extra):
        shown = ms(value) if unit == "ms" else round(value, 3)
        row = {"scenario": scenario, "metric": name, "value": shown, "unit": unit,
               **{k: (round(v, 2) if isinstance(v, float) else v) for k, v in extra.items()}}
        self.results.append(row)
        self.stdout.write(f"  {scenario:>20} | {name:<42} {shown:>10} {unit} "
                          + " ".join(f"{k}={row[k]}" for k in extra))

    def report(self):
        self.stdout.write("\n" + "=" * 100)
        self.stdout.write(f"{'scenario':>20} | {'metric':<42} {'value':>10} unit  extra")
        self.stdout.write("-" * 100)
        for row in self.results:
            extra = " ".join(f"{k}={v}" for k, v in row.items() if k not in ("scenario", "metric", "value", "unit"))
            self.stdout.write(f"{row['scenario']:>20} | {row['metric']:<42} {row['value']:>10} {row['unit']:<5} {extra}")
        out = Path(self.opts["output"])
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"when": time.strftime("%Y-%m-%dT%H:%M:%S"), "results": self.results}, indent=2))
        self.stdout.write(f"\nWritten to {out}")
