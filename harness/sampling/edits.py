"""A reference solution taken apart, and the helpers every edit of its syntax tree uses.

The completion (the statements the model writes after the prompt) is kept as syntax trees;
rewrites (``rewrites.py``) and mutations (``mutations.py``) change a fresh copy of them, and
``variants.py`` renders the result back to text.
"""

from __future__ import annotations

import ast
import random
import textwrap
from collections.abc import Callable
from dataclasses import dataclass

PURE_CALLS = frozenset(
    ("len", "abs", "min", "max", "sum", "sorted", "int", "float", "str", "ord", "chr", "bool")
    + ("round", "tuple", "list", "set", "any", "all")
)
NEW_NAMES = ("res", "out", "acc", "value", "tmp", "item", "cur", "ans", "val", "elem", "total")


class UnusableReference(ValueError):
    """The reference solution cannot be taken apart (it does not parse, or has no body)."""


@dataclass(frozen=True)
class Reference:
    """A reference solution taken apart: the statements the model writes, and names in use."""

    prompt: str
    completion: str
    entry_point: str
    body: tuple[ast.stmt, ...]  # statements inside the completed function
    trailing: tuple[ast.stmt, ...]  # module-level statements after it
    params: tuple[str, ...]
    names: frozenset[str]

    def render(self, body: list[ast.stmt]) -> str:
        """A completion: ``body`` indented under the prompt's function, then the trailing code."""
        text = textwrap.indent(ast.unparse(ast.Module(body=body, type_ignores=[])), "    ")
        tail = ast.unparse(ast.Module(body=list(self.trailing), type_ignores=[]))
        return text + "\n" + (f"\n\n{tail}\n" if tail else "")


@dataclass(frozen=True)
class Variant:
    completion: str
    kind: str  # reference | rewrite | mutant
    ops: tuple[str, ...]


def parse_reference(prompt: str, completion: str, entry_point: str) -> Reference:
    """Take ``prompt + completion`` apart; raises :class:`UnusableReference` with the reason."""
    program = prompt + completion
    try:
        tree = ast.parse(program)
    except SyntaxError as exc:
        raise UnusableReference(
            f"the reference does not parse ({exc.msg}, line {exc.lineno})"
        ) from None
    last_prompt_line = prompt.count("\n") + (0 if prompt.endswith("\n") else 1)
    completed = [
        node
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and node.lineno <= last_prompt_line < (node.end_lineno or 0)
    ]
    if not completed:
        raise UnusableReference("no function in the prompt is completed by the reference")
    function = completed[-1]
    body = tuple(n for n in function.body if n.lineno > last_prompt_line)
    if not body:
        raise UnusableReference("the reference has no statements")
    trailing = tuple(n for n in tree.body if n.lineno > (function.end_lineno or 0))
    params = tuple(a.arg for a in function.args.posonlyargs + function.args.args)
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    names |= {a.arg for a in ast.walk(tree) if isinstance(a, ast.arg)}
    return Reference(prompt, completion, entry_point, body, trailing, params, frozenset(names))


# -- helpers for edits -------------------------------------------------------------------------

Op = Callable[[ast.Module, Reference, random.Random], bool]  # edits the tree; False: no site


def nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node of the tree being changed (walked once per operation, for speed)."""
    return tree.nodes  # type: ignore[attr-defined]


def pure(expr: ast.AST) -> bool:
    """No calls but to side-effect-free builtins, no assignment expressions, no yields."""
    for node in ast.walk(expr):
        if isinstance(node, ast.Call) and not (
            isinstance(node.func, ast.Name) and node.func.id in PURE_CALLS
        ):
            return False
        if isinstance(node, ast.NamedExpr | ast.Yield | ast.YieldFrom | ast.Await | ast.Lambda):
            return False
    return True


def pick(rng: random.Random, nodes: list) -> object | None:
    return rng.choice(nodes) if nodes else None


def blocks(tree: ast.AST) -> list[list[ast.stmt]]:
    """Every statement list in the tree (bodies, else branches, finally blocks)."""
    found = []
    for node in nodes(tree):
        for name in ("body", "orelse", "finalbody"):
            block = getattr(node, name, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                found.append(block)
    return found


def fresh_name(ref: Reference, tree: ast.AST, rng: random.Random) -> str:
    taken = ref.names | {n.id for n in nodes(tree) if isinstance(n, ast.Name)}
    options = [name for name in NEW_NAMES if name not in taken]
    return rng.choice(options) if options else f"v{rng.randrange(10**6)}"


def int_constants(tree: ast.AST) -> list[ast.Constant]:
    return [n for n in nodes(tree) if isinstance(n, ast.Constant) and type(n.value) is int]


def plus(expr: ast.expr, delta: int) -> ast.expr:
    if isinstance(expr, ast.Constant) and type(expr.value) is int:
        return ast.Constant(expr.value + delta)
    op: ast.operator = ast.Add() if delta > 0 else ast.Sub()
    return ast.BinOp(expr, op, ast.Constant(abs(delta)))
