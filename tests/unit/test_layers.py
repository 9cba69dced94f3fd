"""The house's rooms: which layer may import which, and no import cycle anywhere.

app.core is pure (no app.store, app.api, app.client, app.cli, workers, and no Redis, Flask,
Celery or kombu); app.store builds on app.core only; app.api and workers build on both and
never on each other; app.client needs app.core and requests only. Every import counts, also
one inside a function: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

from tests.helpers import ROOT

PACKAGES = ("app", "workers")
THIRD_PARTY_SERVICES = ("redis", "flask", "flask_smorest", "celery", "kombu", "billiard", "marshmallow", "webargs")

# layer -> prefixes it must never import
FORBIDDEN = {
    "app.core": ("app.store", "app.api", "app.client", "app.cli", "workers", *THIRD_PARTY_SERVICES),
    "app.store": ("app.api", "app.client", "app.cli", "workers", "flask", "flask_smorest", "celery"),
    "app.api": ("workers", "app.client", "app.cli"),
    "workers": ("app.api", "app.client", "app.cli"),
    "app.client": ("app.store", "app.api", "app.cli", "workers", *THIRD_PARTY_SERVICES),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports, resolved to absolute names (``from x import y`` counts y
    when ``x.y`` is a module of ours)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def our_modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


def graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the modules of ours it imports (a package counts as its __init__)."""
    return {name: {m for m in imports_of(path) if m in modules and m != name} for name, path in modules.items()}


def layer_of(module: str) -> str | None:
    for layer in sorted(FORBIDDEN, key=len, reverse=True):
        if module == layer or module.startswith(layer + "."):
            return layer
    return None


def violations(modules: dict[str, Path]) -> list[str]:
    found = []
    for name, path in sorted(modules.items()):
        layer = layer_of(name)
        if layer is None:
            continue
        for imported in sorted(imports_of(path)):
            for banned in FORBIDDEN[layer]:
                if imported == banned or imported.startswith(banned + "."):
                    found.append(f"{name} imports {imported} ({layer} must not import {banned})")
    return found


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def without_package_faces(edges: dict[str, set[str]], modules: Iterable[str]) -> dict[str, set[str]]:
    """Drop the edge from a module to its own package's __init__ (Python runs it first anyway)."""
    return {m: {t for t in targets if not m.startswith(t + ".")} for m, targets in edges.items()}


def test_every_layer_imports_only_the_layers_below_it():
    assert violations(our_modules()) == []


def test_no_import_cycle_in_app_or_workers():
    modules = our_modules()
    assert cycles(without_package_faces(graph(modules), modules)) == []


@pytest.mark.parametrize(
    ("source", "module", "expected"),
    [
        ("from app.api import views\n", "app/core/x.py", "app.core.x imports app.api"),
        ("import workers.tasks\n", "app/api/x.py", "app.api.x imports workers.tasks"),
        ("from ..api import gateway\n", "workers/x.py", None),  # relative, resolves outside: below
        ("from app.api.gateway import Gateway\n", "workers/x.py", "workers.x imports app.api.gateway"),
        ("def f():\n    import flask\n", "app/core/x.py", "app.core.x imports flask"),
        ("from ..store import keys\n", "app/core/x.py", "app.core.x imports app.store"),
    ],
)
def test_the_scan_catches_a_violation(tmp_path, monkeypatch, source, module, expected):
    import tests.unit.test_layers as layers

    path = tmp_path / module
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)
    monkeypatch.setattr(layers, "ROOT", tmp_path)
    found = layers.violations({layers.module_name(path): path})
    if expected is None:
        return
    assert any(line.startswith(expected) for line in found), found


def test_the_scan_catches_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
