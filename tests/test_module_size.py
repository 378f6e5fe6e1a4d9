"""Modules stay short enough to read on a few screens: one over 300 lines says
at its top (its docstring) why it is longer."""

import ast
from pathlib import Path

import oauth_tokens

PACKAGE = Path(oauth_tokens.__file__).parent
LIMIT = 300


def test_a_module_over_300_lines_says_why_at_its_top():
    unexplained = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        text = path.read_text()
        if text.count("\n") <= LIMIT:
            continue
        docstring = ast.get_docstring(ast.parse(text)) or ""
        if f"{LIMIT} lines" not in docstring:
            unexplained.append(f"{path.relative_to(PACKAGE)} ({text.count(chr(10))} lines)")
    assert unexplained == []
