"""``manage.py import_graph [DIR]``: the imports between the apps (module level and inside
functions) and the number of function-local imports, read from the source (nothing is
imported). Point it at another checkout to compare: ``git worktree add /tmp/old <rev>``."""

import ast
import collections
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

APPS = ("portal", "devices", "memories")


def graph(root: Path) -> tuple[collections.Counter, int, int]:
    edges: collections.Counter = collections.Counter()
    local = files = 0
    for app in APPS:
        for path in (root / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            files += 1
            stack = [(ast.parse(path.read_text()), 0)]
            while stack:
                node, depth = stack.pop()
                for child in ast.iter_child_nodes(node):
                    if isinstance(child, ast.Import | ast.ImportFrom):
                        local += bool(depth)
                        names = [child.module or ""] if isinstance(child, ast.ImportFrom) else [
                            a.name for a in child.names]
                        for name in names:
                            top = name.split(".")[0]
                            if top in APPS and top != app:
                                edges[(app, top, "function" if depth else "module")] += 1
                    inner = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
                    stack.append((child, depth + inner))
    return edges, local, files


class Command(BaseCommand):
    help = "Imports between the apps, and function-local imports, counted from the source."

    def add_arguments(self, parser):
        parser.add_argument("root", nargs="?", default=str(settings.BASE_DIR))

    def handle(self, *args, root, **options):
        edges, local, files = graph(Path(root))
        for (source, target, where), count in sorted(edges.items()):
            arrow = "ok" if APPS.index(source) > APPS.index(target) else "UPWARD"
            self.stdout.write(f"{source} -> {target} ({where}): {count}  {arrow}")
        self.stdout.write(f"function-local imports: {local} in {files} files")
