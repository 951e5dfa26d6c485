"""gunicorn's settings for the portal: `gunicorn -c gunicorn.conf.py portal.wsgi` (the
README's production command; `make run` serves through it too).

gthread workers: each worker's threads share its one ONNX query encoder, which encodes the
queries that arrive together in one pass (memories/gateway/embedding.py), and its lookup
cache. The defaults were chosen by `manage.py benchmark` on 2 cores (its "serving" rows
compare the choices); set WEB_CONCURRENCY (processes) and WEB_THREADS for other hardware:
about one process per core, and enough threads per process to keep a core busy while
others wait on PostgreSQL."""

import os

# One thread per process for the numeric libraries too: each worker's request threads call
# NumPy (ranking on the vector copy) at once, and OpenBLAS's own threads then fight over the
# cores (16 threads ranking 10,000 vectors: 50 s with its default pool, 0.3 s with one).
# Set before the workers import NumPy.
for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(name, "1")

bind = os.environ.get("WEB_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "16"))
worker_class = "gthread"
keepalive = 30  # toy servers keep their connection between turns
timeout = 60
accesslog = None


def post_worker_init(worker):
    """Each worker loads the query encoder and Mem0 before its first request, writes the toy
    routes' usage counts and call audit entries in batches (``portal.batches``), and keeps
    torch (Mem0's writes) to one thread."""
    import torch

    from memories.apps import warm_up
    from portal import batches

    torch.set_num_threads(1)
    warm_up()
    batches.start()


def worker_exit(server, worker):
    """What still waits (counts, audit entries) is written before the worker goes."""
    from portal import batches

    batches.stop()
