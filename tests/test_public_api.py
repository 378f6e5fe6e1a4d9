"""The package uses Django's (and DRF's) public API only.

Private names change in minor releases without notice: ``get_related_populators``
gained an argument in Django 6.1 and ``DatabaseOperations.return_insert_columns``
was renamed in 6.0, and every token request of a default install answered 500.
This test reads the package's source and fails on

- an import from a private module or of a private name (``django.db.models.sql``,
  ``django.db.backends.<vendor>``, ``_anything``);
- an attribute beginning with ``_`` that the package does not define itself,
  except the documented ones (``Model._meta``, ``instance._state`` as in
  ``Model.from_db``'s documentation, ``_default_manager``, namedtuple's
  ``_replace``);
- an attribute known to be internal though it has no underscore (the SQL
  compiler's, backend ``features``, ``in_atomic_block``...).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "oauth_tokens"

#: Modules of Django / DRF that are implementation, not API.
PRIVATE_MODULES = (
    "django.db.models.sql",
    "django.db.models.query",  # QuerySet is public as django.db.models.QuerySet
    "django.db.models.query_utils",
    "django.db.models.fields.related_descriptors",
    "django.db.backends.base",
    "django.db.backends.postgresql",
    "django.db.backends.mysql",
    "django.db.backends.sqlite3",
    "django.db.backends.oracle",
    "django.db.backends.utils",
    "django.utils.asyncio",
)
#: Underscore names that Django documents (or, for ``_replace``, Python's namedtuple).
DOCUMENTED_UNDERSCORE = {"_meta", "_state", "_default_manager", "_base_manager", "_replace", "_asdict", "_fields"}
#: Internal attributes without an underscore: SQL compiler, backend features, transaction internals.
INTERNAL_ATTRIBUTES = {
    "get_compiler", "klass_info", "get_related_populators", "get_converters", "annotation_col_map",
    "return_insert_columns", "returning_columns", "fetch_returned_insert_columns",
    "cast_char_field_without_max_length", "cast_db_type", "features", "in_atomic_block", "needs_rollback",
    "savepoint_ids", "queries_logged", "close_if_health_check_failed", "ServerBindingCursor",
    "get_db_converters", "select_related_descend",
}


def sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def own_private_names(files: list[Path]) -> set[str]:
    """Every ``_name`` the package defines: functions, classes, module and class
    attributes, ``self._x`` assignments, ``__slots__`` entries, parameters."""
    names: set[str] = set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("_"):
                names.add(node.value)  # __slots__, getattr(obj, "_x") of our own objects
            elif isinstance(node, ast.alias):
                names.add(node.asname or node.name.split(".")[0])
    return {n for n in names if n.startswith("_")}


def private_module(module: str) -> bool:
    if not module.startswith(("django", "rest_framework")):
        return False
    if any(part.startswith("_") for part in module.split(".")):
        return True
    return any(module == m or module.startswith(m + ".") for m in PRIVATE_MODULES)


def findings(files: list[Path], own: set[str]) -> list[str]:
    found = []
    for path in files:
        where = path.relative_to(PACKAGE.parent)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if private_module(node.module):
                    found.append(f"{where}:{node.lineno}: import from {node.module}")
                elif node.module.startswith(("django", "rest_framework")):
                    found += [f"{where}:{node.lineno}: import of {a.name} from {node.module}"
                              for a in node.names if a.name.startswith("_")]
            elif isinstance(node, ast.Import):
                found += [f"{where}:{node.lineno}: import {a.name}" for a in node.names if private_module(a.name)]
            elif isinstance(node, ast.Attribute):
                name = node.attr
                if name.startswith("__") and name.endswith("__"):
                    continue
                if name.startswith("_") and name not in DOCUMENTED_UNDERSCORE and name not in own:
                    found.append(f"{where}:{node.lineno}: private attribute .{name}")
                elif name in INTERNAL_ATTRIBUTES:
                    found.append(f"{where}:{node.lineno}: internal attribute .{name}")
    return found


def test_the_package_uses_no_private_django_api():
    files = sources()
    assert len(files) > 50  # the scan reads the package, not an empty directory
    assert findings(files, own_private_names(files)) == []


@pytest.mark.parametrize("source, expected", [
    ("from django.db.models.query import get_related_populators\n", "import from django.db.models.query"),
    ("def f(connection):\n    return connection.ops.return_insert_columns([])\n",
     "internal attribute .return_insert_columns"),
    ("def f(view):\n    return view._allowed_methods()\n", "private attribute ._allowed_methods"),
    ("def f(connection):\n    return connection.features.has_select_for_update\n", "internal attribute .features"),
    ("from django.db.backends.postgresql.base import ServerBindingCursor\n", "import from django.db.backends"),
])
def test_the_scan_catches_what_broke_before(tmp_path, source, expected):
    path = tmp_path / "oauth_tokens" / "bad.py"
    path.parent.mkdir()
    path.write_text(source)
    # Pretend the file sits in the package, so paths print as in a real finding.
    global PACKAGE
    saved, PACKAGE = PACKAGE, path.parent
    try:
        assert any(expected in line for line in findings([path], own_private_names([path])))
    finally:
        PACKAGE = saved


def test_our_own_private_names_and_documented_ones_pass(tmp_path):
    path = tmp_path / "oauth_tokens" / "good.py"
    path.parent.mkdir()
    path.write_text(
        "class Cache:\n"
        "    def __init__(self):\n        self._entries = {}\n"
        "def f(cache, obj):\n"
        "    obj._state.adding = False\n"
        "    return cache._entries, type(obj)._meta.get_fields(), type(obj)._default_manager\n"
    )
    global PACKAGE
    saved, PACKAGE = PACKAGE, path.parent
    try:
        assert findings([path], own_private_names([path])) == []
    finally:
        PACKAGE = saved
