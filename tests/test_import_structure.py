"""The package's structure, read from its imports (every ``import`` statement,
including those inside functions): the spec layer ``oauth2`` imports no other
part of the package; provider, resource and consumer never import one another;
and no modules import each other in a circle (an import moved into a function to
dodge a circle counts)."""

import ast
from pathlib import Path

import oauth_tokens

PACKAGE = Path(oauth_tokens.__file__).parent
ROLES = ("provider", "resource", "consumer")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, name: str, modules: set[str]) -> set[str]:
    """The package modules ``path`` imports: ``from x import y`` is ``x.y`` when that
    is a module (importing a submodule), else ``x``."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                kept = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*kept, base] if base else kept)
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    return {m for m in found if m in modules and m != name}


def graph() -> dict[str, set[str]]:
    """Every module of the package (migrations aside) and the package modules it imports."""
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts}
    return {name: imports_of(path, name, set(paths)) for name, path in paths.items()}


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in (*ROLES, "oauth2")) else "shared"


def test_the_spec_layer_imports_nothing_else_of_the_package():
    for module, targets in graph().items():
        if layer(module) == "oauth2":
            assert {t for t in targets if layer(t) != "oauth2"} == set(), module


def test_provider_resource_and_consumer_never_import_one_another():
    for module, targets in graph().items():
        if layer(module) in ROLES:
            others = {t for t in targets if layer(t) in ROLES and layer(t) != layer(module)}
            assert others == set(), f"{module} imports {sorted(others)}"


def test_no_modules_import_each_other_in_a_circle():
    edges = graph()
    # Tarjan's strongly connected components: any component of two or more modules is a circle.
    index, low, stack, on_stack, circles, counter = {}, {}, [], set(), [], [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in edges[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    assert circles == []
