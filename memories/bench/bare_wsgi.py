"""Bare Mem0 search as a WSGI app, for the benchmark: what a toy server calling Mem0 itself
would get, served by the same gunicorn (``gunicorn.conf.py``) and measured by the same client
as the portal's routes. ``GET /search?user_id=…&query=…&limit=10`` → ``{"results": [ids]}``.
Mem0 is the gateway's own ``mem0.Memory`` (its connection pool lets filtered HNSW scans
iterate, so Mem0 finds the namespace's rows at all in a large store)."""

import json
import os
from urllib.parse import parse_qs

from portal.bootstrap import ensure_embedded_env

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
ensure_embedded_env()

import django  # noqa: E402

django.setup()

from memories import gateway  # noqa: E402


def application(environ, start_response):
    if environ.get("PATH_INFO") != "/search":
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "0")])
        return [b""]
    args = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    if not args.get("user_id"):  # the readiness probe
        start_response("400 Bad Request", [("Content-Type", "text/plain"), ("Content-Length", "0")])
        return [b""]
    found = gateway.get().memory.search(args.get("query", ""), filters={"user_id": args["user_id"]},
                                        top_k=int(args.get("limit", 10)))
    body = json.dumps({"results": [r["id"] for r in found["results"]]}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
