"""Calls of a problem's entry point found in text: the prompt's examples and the self-tests.

Read, never run (``ast`` only):

- :func:`literal_calls` finds the argument lists of every call of the entry point whose
  arguments are all Python literals (``f(1, [2, 3])``, ``f(s="ab")``), in order, without
  repeats. In a prompt that is HumanEval's ``>>> f(1)``, ``f(1) ➞ 2``, ``f(1) == 2``...
- :func:`harvest_inputs` gives a problem's inputs for the ``outputs`` signal: the prompt's calls,
  then those inside the self-tests, deduplicated, in that stable order, at most ``limit``.
- :func:`assert_forms` gives the normalised assert statements of a test source (whitespace and
  quoting as ``ast.unparse`` writes them, the entry point's name and ``candidate`` both renamed
  ``f``, an assert's message dropped), to compare a selector's test with the hidden ones.
"""

from __future__ import annotations

import ast
import re

CALLEE = "f"  # every call of the entry point is renamed this before comparing tests
SCAN = 400  # characters after an opening parenthesis searched for its match


def _balanced(text: str, open_at: int) -> str | None:
    """The text between the parenthesis at ``open_at`` and its match (within ``SCAN``)."""
    depth = 0
    for i in range(open_at, min(len(text), open_at + SCAN)):
        if text[i] in "([{":
            depth += 1
        elif text[i] in ")]}":
            depth -= 1
            if depth == 0:
                return text[open_at + 1 : i]
    return None


def _literal_arguments(args: str) -> bool:
    try:
        call = ast.parse(f"f({args})", mode="eval").body
    except SyntaxError:
        return False
    assert isinstance(call, ast.Call)
    try:
        for arg in [*call.args, *(k.value for k in call.keywords)]:
            ast.literal_eval(arg)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def literal_calls(text: str, entry_point: str) -> list[str]:
    """Argument lists (as source) of the calls of ``entry_point`` with literal arguments."""
    found: dict[str, None] = {}
    for match in re.finditer(rf"(?<![\w.]){re.escape(entry_point)}\s*\(", text):
        if text[max(0, match.start() - 4) : match.start()].endswith("def "):
            continue
        args = _balanced(text, match.end() - 1)
        if args is None or not _literal_arguments(args):
            continue
        found.setdefault(args.strip(), None)
    return list(found)


def harvest_inputs(prompt: str, tests: list[str], entry_point: str, limit: int) -> list[str]:
    """The problem's inputs: the prompt's calls, then the self-tests', without repeats."""
    found: dict[str, None] = dict.fromkeys(literal_calls(prompt, entry_point))
    for test in tests:
        found.update(dict.fromkeys(literal_calls(test, entry_point)))
    return list(found)[:limit]


class _Rename(ast.NodeTransformer):
    def __init__(self, names: set[str]):
        self.names = names

    def visit_Name(self, node: ast.Name) -> ast.Name:
        return ast.Name(CALLEE, node.ctx) if node.id in self.names else node


def assert_forms(source: str, entry_point: str) -> set[str]:
    """The normalised asserts in ``source`` (see the module docstring); none if it does not
    parse."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return set()
    rename = _Rename({entry_point, "candidate"})
    forms = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert):
            test = rename.visit(ast.parse(ast.unparse(node.test), mode="eval").body)
            forms.add(f"assert {ast.unparse(test)}")
    return forms
