"""Variants of a reference solution for the simulated sampler.

*Rewrites* are meant to keep the behaviour (rename a local, mirror a comparison, expand
``x += 1``, return through a variable, turn a comprehension into a loop, invert an ``if``...);
*mutations* are the bugs a small model makes (off-by-one in a constant, a ``range`` bound or
an index; a flipped comparison; a wrong constant or operator; swapped operands; a dropped
branch or statement; a negated condition; returning the input). Both work on the syntax tree of
the completion (the statements the model writes after the prompt) and are then rendered back
to text, so every variant parses: a mutant fails for semantic reasons, not a syntax error.

Nothing here runs code. The simulated sampler executes the variants beside the reference on
probe inputs (never the hidden tests) and keeps a rewrite only when it agrees with the
reference there, and tells mutants that are caught on those inputs from ones that are not.
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
MIRROR: dict[type, type] = {
    ast.Lt: ast.Gt,
    ast.Gt: ast.Lt,
    ast.LtE: ast.GtE,
    ast.GtE: ast.LtE,
    ast.Eq: ast.Eq,
    ast.NotEq: ast.NotEq,
}
FLIP: dict[type, tuple[type, ...]] = {
    ast.Lt: (ast.LtE, ast.Gt),
    ast.LtE: (ast.Lt, ast.GtE),
    ast.Gt: (ast.GtE, ast.Lt),
    ast.GtE: (ast.Gt, ast.LtE),
    ast.Eq: (ast.NotEq,),
    ast.NotEq: (ast.Eq,),
    ast.In: (ast.NotIn,),
    ast.NotIn: (ast.In,),
    ast.Is: (ast.IsNot,),
    ast.IsNot: (ast.Is,),
}
SWAP_OP: dict[type, tuple[type, ...]] = {
    ast.Add: (ast.Sub, ast.Mult),
    ast.Sub: (ast.Add,),
    ast.Mult: (ast.Add, ast.Pow),
    ast.FloorDiv: (ast.Div, ast.Mod),
    ast.Div: (ast.FloorDiv, ast.Mult),
    ast.Mod: (ast.FloorDiv,),
    ast.Pow: (ast.Mult,),
}
SWAP_CALL = {"max": "min", "min": "max", "any": "all", "all": "any"}
SWAP_METHOD = {
    "lower": "upper",
    "upper": "lower",
    "startswith": "endswith",
    "endswith": "startswith",
    "isupper": "islower",
    "islower": "isupper",
    "isdigit": "isalpha",
    "isalpha": "isdigit",
    "find": "rfind",
    "rfind": "find",
    "lstrip": "rstrip",
    "rstrip": "lstrip",
}
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


def make_variants(ref: Reference, rng: random.Random, kind: str, count: int) -> list[Variant]:
    """Up to ``count`` distinct rewrites (``kind="rewrite"``) or mutants (``"mutant"``)."""
    seen = {ref.render(list(ref.body)), ref.completion}
    found: list[Variant] = []
    attempts = count * 5
    source = ast.unparse(ast.Module(body=list(ref.body), type_ignores=[]))
    for _ in range(attempts):
        if len(found) >= count:
            break
        body = ast.parse(source)
        if kind == "rewrite":
            ops = rng.sample(list(REWRITES), rng.choice((1, 1, 2, 3)))
        else:
            ops = [rng.choices(list(MUTATIONS), weights=list(MUTATION_WEIGHTS))[0]]
            if rng.random() < 0.3:  # a bug written in a different style
                ops.append(rng.choice(list(REWRITES)))
        table = {**REWRITES, **MUTATIONS}
        applied = []
        for op in ops:
            body.nodes = list(ast.walk(body))  # type: ignore[attr-defined]
            if table[op](body, ref, rng):
                applied.append(op)
        if not applied or (kind == "mutant" and applied[0] not in MUTATIONS):
            continue
        text = _render_checked(ref, body)
        if text is None or text in seen:
            continue
        seen.add(text)
        found.append(Variant(text, kind, tuple(applied)))
    return found


def _render_checked(ref: Reference, body: ast.Module) -> str | None:
    ast.fix_missing_locations(body)  # unparse reads line numbers of new statements
    try:
        text = ref.render(body.body)
        compile("def _variant():\n" + text, "<variant>", "exec")
    except (SyntaxError, ValueError, TypeError, AttributeError, RecursionError):
        return None
    return text


# -- helpers --------------------------------------------------------------------------------------

Op = Callable[[ast.Module, Reference, random.Random], bool]


def _nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node of the tree being changed (walked once per operation, for speed)."""
    return tree.nodes  # type: ignore[attr-defined]


def _pure(expr: ast.AST) -> bool:
    """No calls but to side-effect-free builtins, no assignment expressions, no yields."""
    for node in ast.walk(expr):
        if isinstance(node, ast.Call) and not (
            isinstance(node.func, ast.Name) and node.func.id in PURE_CALLS
        ):
            return False
        if isinstance(node, ast.NamedExpr | ast.Yield | ast.YieldFrom | ast.Await | ast.Lambda):
            return False
    return True


def _pick(rng: random.Random, nodes: list) -> object | None:
    return rng.choice(nodes) if nodes else None


def _blocks(tree: ast.AST) -> list[list[ast.stmt]]:
    """Every statement list in the tree (bodies, else branches, finally blocks)."""
    found = []
    for node in _nodes(tree):
        for name in ("body", "orelse", "finalbody"):
            block = getattr(node, name, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                found.append(block)
    return found


def _fresh(ref: Reference, tree: ast.AST, rng: random.Random) -> str:
    taken = ref.names | {n.id for n in _nodes(tree) if isinstance(n, ast.Name)}
    options = [name for name in NEW_NAMES if name not in taken]
    return rng.choice(options) if options else f"v{rng.randrange(10**6)}"


def _int_constants(tree: ast.AST) -> list[ast.Constant]:
    return [n for n in _nodes(tree) if isinstance(n, ast.Constant) and type(n.value) is int]


def _plus(expr: ast.expr, delta: int) -> ast.expr:
    if isinstance(expr, ast.Constant) and type(expr.value) is int:
        return ast.Constant(expr.value + delta)
    op: ast.operator = ast.Add() if delta > 0 else ast.Sub()
    return ast.BinOp(expr, op, ast.Constant(abs(delta)))


# -- rewrites (behaviour kept) --------------------------------------------------------------------


def rename_local(tree: ast.Module, ref: Reference, rng: random.Random) -> bool:
    declared = {
        name for n in _nodes(tree) if isinstance(n, ast.Global | ast.Nonlocal) for name in n.names
    }
    stored = {
        n.id for n in _nodes(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }
    candidates = sorted(stored - set(ref.params) - declared - {ref.entry_point})
    if not candidates:
        return False
    old, new = rng.choice(candidates), _fresh(ref, tree, rng)
    for node in _nodes(tree):
        if isinstance(node, ast.Name) and node.id == old:
            node.id = new
        elif isinstance(node, ast.arg) and node.arg == old:
            node.arg = new
    return True


def mirror_compare(tree: ast.Module, ref: Reference, rng: random.Random) -> bool:
    sites = [
        n
        for n in _nodes(tree)
        if isinstance(n, ast.Compare) and len(n.ops) == 1 and type(n.ops[0]) in MIRROR and _pure(n)
    ]
    node = _pick(rng, sites)
    if not isinstance(node, ast.Compare):
        return False
    node.left, node.comparators = node.comparators[0], [node.left]
    node.ops = [MIRROR[type(node.ops[0])]()]
    return True


def commute_mult(tree: ast.Module, ref: Reference, rng: random.Random) -> bool:
    sites = [n for n in _nodes(tree) if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Mult)]
    node = _pick(rng, [n for n in sites if _pure(n)])
    if not isinstance(node, ast.BinOp):
        return False
    node.left, node.right = node.right, node.left
    return True


def expand_augassign(tree: ast.Module, ref: Reference, rng: random.Random) -> bool:
    for block in rng.sample(_blocks(tree), len(_blocks(tree))):
        for i, stmt in enumerate(block):
            if (
                isinstance(stmt, ast.AugAssign)
                and isinstance(stmt.target, ast.Name)
                and isinstance(stmt.value, ast.Constant)
                and isinstance(stmt.op, ast.Add | ast.Sub | ast.Mult)
            ):
                load = ast.Name(stmt.target.id, ast.Load())
                block[i] = ast.Assign([stmt.target], ast.BinOp(load, stmt.op, stmt.value))
                return True
    return False


def return_via_name(tree: ast.Module, ref: Reference, rng: random.Random) -> bool:
    sites = [
        (block, i)
        for block in _blocks(tree)
        for i, stmt in enumerate(block)
        if isinstance(stmt, ast.Return)
        and stmt.value is not None
        and not isinstance(stmt.value, ast.Name | ast.Constant)
    ]
    if not sites:
        return False
    block, i = rng.choice(sites)
    stmt = block[i]
    assert isinstance(stmt, ast.Return) and stmt.value is not None
    name = _fresh(ref, tree, rng)
    block[i : i + 1] = [
        ast.Assign([ast.Name(name, ast.Store())], stmt.value),
        ast.Return(ast.Name(name, ast.Load())),
    ]
    return True


def ternary_to_if(tree: ast.Module, ref: Reference, rng: random.Random) -> bool:
    for block in _blocks(tree):
        for i, stmt in enumerate(block):
            if isinstance(stmt, ast.Return) and isinstance(stmt.value, ast.IfExp):
                e = stmt.value
                block[i] = ast.If(e.test, [ast.Return(e.body)], [ast.Return(e.orelse)])
                return True
    return False


def invert_if(tree: ast.Module, ref: Reference, rng: random.Random) -> bool:
    sites = [n for n in _nodes(tree) if isinstance(n, ast.If) and n.orelse]
    node = _pick(rng, sites)
    if not isinstance(node, ast.If):
        return False
    node.test = ast.UnaryOp(ast.Not(), node.test)
    node.body, node.orelse = node.orelse, node.body
    return True


def comprehension_to_loop(tree: ast.Module, ref: Reference, rng: random.Random) -> bool:
    for block in _blocks(tree):
        for i, stmt in enumerate(block):
            comp = stmt.value if isinstance(stmt, ast.Return) else None
            if not isinstance(comp, ast.ListComp) or len(comp.generators) != 1:
                continue
            gen = comp.generators[0]
            targets = {n.id for n in ast.walk(gen.target) if isinstance(n, ast.Name)}
            inside = {id(n) for n in ast.walk(comp)}
            clash = any(
                isinstance(n, ast.Name) and n.id in targets and id(n) not in inside
                for n in _nodes(tree)
            )
            if clash or gen.is_async:
                continue
            name = _fresh(ref, tree, rng)
            append = ast.Attribute(ast.Name(name, ast.Load()), "append", ast.Load())
            inner: list[ast.stmt] = [ast.Expr(ast.Call(append, [comp.elt], []))]
            for condition in reversed(gen.ifs):
                inner = [ast.If(condition, inner, [])]
            block[i : i + 1] = [
                ast.Assign([ast.Name(name, ast.Store())], ast.List([], ast.Load())),
                ast.For(gen.target, gen.iter, inner, []),
                ast.Return(ast.Name(name, ast.Load())),
            ]
            return True
    return False


REWRITES: dict[str, Op] = {
    "rename_local": rename_local,
    "mirror_compare": mirror_compare,
    "commute_mult": commute_mult,
    "expand_augassign": expand_augassign,
    "return_via_name": return_via_name,
    "ternary_to_if": ternary_to_if,
    "invert_if": invert_if,
    "comprehension_to_loop": comprehension_to_loop,
}


# -- mutations (behaviour changed, usually) -------------------------------------------------------


def off_by_one(tree: ast.Module, ref: Reference, rng: random.Random) -> bool:
    """An integer constant, a ``range`` bound or an index moved by one."""
    ranges = [
        n
        for n in _nodes(tree)
        if isinstance(n, ast.Call)
        and isinstance(n.func, ast.Name)
        and n.func.id == "range"
        and 1 <= len(n.args) <= 3
    ]
    indexes = [
        n
        for n in _nodes(tree)
        if isinstance(n, ast.Subscript) and isinstance(n.slice, ast.Name | ast.BinOp)
    ]
    choices: list[ast.AST] = [*_int_constants(tree), *ranges, *indexes]
    if not choices:
        return False
    node = rng.choice(choices)
    delta = rng.choice((1, -1))
    if isinstance(node, ast.Constant) and type(node.value) is int:
        node.value = node.value + delta
    elif isinstance(node, ast.Call):
        at = rng.randrange(min(len(node.args), 2))
        node.args[at] = _plus(node.args[at], delta)
    elif isinstance(node, ast.Subscript):
        node.slice = _plus(node.slice, delta)  # type: ignore[arg-type]
    return True


def flip_compare(tree: ast.Module, ref: Reference, rng: random.Random) -> bool:
    sites = [
        (n, i)
        for n in _nodes(tree)
        if isinstance(n, ast.Compare)
        for i, op in enumerate(n.ops)
        if type(op) in FLIP
    ]
    if not sites:
        return False
    node, i = rng.choice(sites)
    node.ops[i] = rng.choice(FLIP[type(node.ops[i])])()
    return True


def wrong_constant(tree: ast.Module, ref: Reference, rng: random.Random) -> bool:
    sites = [
        n
        for n in _nodes(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, int | float | str | bool)
    ]
    node = _pick(rng, sites)
    if not isinstance(node, ast.Constant):
        return False
    value = node.value
    if isinstance(value, bool):
        node.value = not value
    elif isinstance(value, int):
        node.value = rng.choice([v for v in (0, 1, 2, value * 2, value + 10, -value) if v != value])
    elif isinstance(value, float):
        node.value = rng.choice((value * 2, value + 0.5, 0.0 if value else 1.0))
    elif isinstance(value, str):
        options = [value[::-1], value.upper(), value[:-1], value + (value[:1] or " ")]
        options = [o for o in options if o != value]
        if not options:
            return False
        node.value = rng.choice(options)
    return True


def swap_operator(tree: ast.Module, ref: Reference, rng: random.Random) -> bool:
    """``+`` for ``-``, ``and`` for ``or``, ``max`` for ``min``, ``lower`` for ``upper``..."""
    sites: list[ast.AST] = [
        n
        for n in _nodes(tree)
        if (isinstance(n, ast.BinOp) and type(n.op) in SWAP_OP)
        or isinstance(n, ast.BoolOp)
        or (isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in SWAP_CALL)
        or (isinstance(n, ast.Attribute) and n.attr in SWAP_METHOD)
    ]
    node = _pick(rng, sites)
    if isinstance(node, ast.BinOp):
        node.op = rng.choice(SWAP_OP[type(node.op)])()
    elif isinstance(node, ast.BoolOp):
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        node.func.id = SWAP_CALL[node.func.id]
    elif isinstance(node, ast.Attribute):
        node.attr = SWAP_METHOD[node.attr]
    else:
        return False
    return True


def swap_operands(tree: ast.Module, ref: Reference, rng: random.Random) -> bool:
    sites: list[ast.AST] = [
        n
        for n in _nodes(tree)
        if (
            isinstance(n, ast.BinOp)
            and isinstance(n.op, ast.Sub | ast.Div | ast.FloorDiv | ast.Mod)
        )
        or (
            isinstance(n, ast.Compare)
            and len(n.ops) == 1
            and type(n.ops[0]) not in (ast.Eq, ast.NotEq)
        )
    ]
    node = _pick(rng, sites)
    if isinstance(node, ast.BinOp):
        node.left, node.right = node.right, node.left
    elif isinstance(node, ast.Compare):
        node.left, node.comparators = node.comparators[0], [node.left]
    else:
        return False
    return True


def drop_branch(tree: ast.Module, ref: Reference, rng: random.Random) -> bool:
    """An ``if`` replaced by its ``else`` (the branch is never taken), or its ``else`` dropped."""
    sites = [
        (block, i) for block in _blocks(tree) for i, s in enumerate(block) if isinstance(s, ast.If)
    ]
    if not sites:
        return False
    block, i = rng.choice(sites)
    node = block[i]
    assert isinstance(node, ast.If)
    if node.orelse and rng.random() < 0.5:
        node.orelse = []
    else:
        block[i : i + 1] = node.orelse or [ast.Pass()]
    return True


def drop_statement(tree: ast.Module, ref: Reference, rng: random.Random) -> bool:
    kinds = (ast.Assign, ast.AugAssign, ast.Expr, ast.For, ast.While, ast.If)
    sites = [
        (block, i)
        for block in _blocks(tree)
        if len(block) > 1
        for i, s in enumerate(block[:-1])
        if isinstance(s, kinds)
    ]
    if not sites:
        return False
    block, i = rng.choice(sites)
    del block[i]
    return True


def negate_condition(tree: ast.Module, ref: Reference, rng: random.Random) -> bool:
    sites: list[ast.AST] = [
        n for n in _nodes(tree) if isinstance(n, ast.If | ast.While | ast.IfExp)
    ]
    sites += [n for n in _nodes(tree) if isinstance(n, ast.comprehension) and n.ifs]
    node = _pick(rng, sites)
    if isinstance(node, ast.comprehension):
        node.ifs[0] = ast.UnaryOp(ast.Not(), node.ifs[0])
    elif isinstance(node, ast.If | ast.While | ast.IfExp):
        test = node.test
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            node.test = test.operand
        else:
            node.test = ast.UnaryOp(ast.Not(), test)
    else:
        return False
    return True


def return_input(tree: ast.Module, ref: Reference, rng: random.Random) -> bool:
    """The last ``return`` gives back a parameter unchanged (or a wrong local)."""
    returns = [n for n in _nodes(tree) if isinstance(n, ast.Return) and n.value is not None]
    if not returns or not ref.params:
        return False
    node = returns[-1]
    name = rng.choice(ref.params)
    if isinstance(node.value, ast.Name) and node.value.id == name:
        return False
    node.value = ast.Name(name, ast.Load())
    return True


MUTATIONS: dict[str, Op] = {
    "off_by_one": off_by_one,
    "flip_compare": flip_compare,
    "wrong_constant": wrong_constant,
    "swap_operator": swap_operator,
    "swap_operands": swap_operands,
    "drop_branch": drop_branch,
    "drop_statement": drop_statement,
    "negate_condition": negate_condition,
    "return_input": return_input,
}
MUTATION_WEIGHTS = (4, 4, 2, 3, 2, 2, 2, 2, 1)  # how often each kind of bug is tried
