"""No import circle in keras_compact (issue 19): the graph of module-level
imports between the package's modules, read from the source with `ast`, has
no cycle; and every module imports in a fresh process."""

import ast
import os
import subprocess
import sys

import keras_compact

ROOT = os.path.dirname(keras_compact.__file__)


def _modules():
    names = {}
    for folder, _, files in os.walk(ROOT):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                parts = os.path.relpath(path, os.path.dirname(ROOT))[:-3].split(os.sep)
                if parts[-1] == "__init__":
                    parts = parts[:-1]
                names[".".join(parts)] = path
    return names


def _top_level_imports(path, module, known, lazy=False):
    """keras_compact modules imported by `path` (at module level, or anywhere if lazy)."""
    tree = ast.parse(open(path, encoding="utf-8").read())
    nodes = ast.walk(tree) if lazy else _module_level(tree.body)
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative
                package = module.split(".")[: len(module.split(".")) - node.level + (
                    1 if path.endswith("__init__.py") else 0)]
                base = ".".join(package + ([base] if base else []))
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != module:
                found.add(target)
    return found


def _module_level(body):
    """Statements run at import: the body, and the bodies of if / try at that level."""
    for node in body:
        yield node
        for field in ("body", "orelse", "finalbody"):
            if isinstance(node, (ast.If, ast.Try)):
                yield from _module_level(getattr(node, field, []))
        if isinstance(node, ast.Try):
            for handler in node.handlers:
                yield from _module_level(handler.body)


def _cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, result = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return result


def _graph(lazy=False):
    modules = _modules()
    graph = {}
    for module, path in modules.items():
        imports = _top_level_imports(path, module, modules, lazy)
        # A package's own __init__ runs before its submodules: not an edge back.
        graph[module] = {m for m in imports if not module.startswith(m + ".")}
    return graph


def test_no_import_circle_between_modules():
    assert not _cycles(_graph()), "import circles between module-level imports"
    # Function-level imports too: a lazy import that closes a circle hides it.
    cycles = _cycles(_graph(lazy=True))
    assert not cycles, f"import circles: {cycles}"


def test_every_module_imports_in_a_fresh_process():
    names = sorted(_modules())
    code = ("import importlib, sys\n"
            f"for name in {names!r}:\n"
            "    importlib.import_module(name)\n"
            "print('ok', len(sys.modules))\n")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2",
               PYTHONPATH=os.pathsep.join([os.path.dirname(ROOT),
                                           os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=600, env=env)
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-3000:]
