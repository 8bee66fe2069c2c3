"""Calls of a problem's entry point found in text: the prompt's examples and the self-tests.

Read, never run (``ast`` only):

- :func:`find_calls` finds every call of the entry point whose arguments are all Python
  literals (``f(1, [2, 3])``, ``f(s="ab")``, ``f("(")``), in order, with where it stands;
  :func:`literal_calls` gives their argument lists without repeats. In a prompt that is
  HumanEval's ``>>> f(1)``, ``f(1) ➞ 2``, ``f(1) == 2``...
- :func:`harvest_inputs` gives a problem's inputs for the ``outputs`` signal: the prompt's calls,
  then those inside the self-tests, deduplicated, in that stable order, at most ``limit``.
- :func:`assert_forms` gives the normalised assert statements of a test source (whitespace and
  quoting as ``ast.unparse`` writes them, the entry point's name and ``candidate`` both renamed
  ``f``, an assert's message dropped), to compare a selector's test with the hidden ones.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from dataclasses import dataclass

CALLEE = "f"  # every call of the entry point is renamed this before comparing tests
SCAN = 400  # characters after an opening parenthesis searched for its match


def enclosed(text: str, open_at: int) -> str | None:
    """The text between the bracket at ``open_at`` and its match (within ``SCAN``), brackets
    inside quoted strings not counted."""
    depth, quote, i = 0, "", open_at
    while i < min(len(text), open_at + SCAN):
        char = text[i]
        if quote:
            if char == "\\":
                i += 1  # an escaped character, a quote among them, never ends the string
            elif char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
            if depth == 0:
                return text[open_at + 1 : i]
        i += 1
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


@dataclass(frozen=True)
class Call:
    """A call of the entry point written in a text."""

    start: int  # offset of the entry point's name
    end: int  # offset just past the closing parenthesis
    args: str  # the argument list as source, stripped: "[1, 2], k=3"


def find_calls(text: str, entry_point: str) -> list[Call]:
    """The calls of ``entry_point`` with literal arguments, in order, repeats included (a
    ``def`` of that name is not a call; ``my_f(1)`` and ``x.f(1)`` are not calls of ``f``)."""
    calls = []
    for match in re.finditer(rf"(?<![\w.]){re.escape(entry_point)}\s*\(", text):
        if text[max(0, match.start() - 4) : match.start()].endswith("def "):
            continue
        args = enclosed(text, match.end() - 1)
        if args is None or not _literal_arguments(args):
            continue
        calls.append(Call(match.start(), match.end() + len(args) + 1, args.strip()))
    return calls


def literal_calls(text: str, entry_point: str) -> list[str]:
    """Argument lists (as source) of the calls of ``entry_point`` with literal arguments."""
    return list(dict.fromkeys(call.args for call in find_calls(text, entry_point)))


def harvest_inputs(
    prompt: str, tests: list[str], entry_point: str, limit: int, first: Sequence[str] = ()
) -> list[str]:
    """The problem's inputs: ``first`` (the prompt's examples' arguments), the prompt's other
    calls, then the self-tests', without repeats."""
    found: dict[str, None] = dict.fromkeys(first)
    found.update(dict.fromkeys(literal_calls(prompt, entry_point)))
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
