"""Mutations: the bugs a small model makes. Off-by-one in a constant, a ``range`` bound or an
index; a flipped comparison; a wrong constant or operator; swapped operands; a dropped branch or
statement; a negated condition; returning the input. Every mutant parses: it fails, when it
does, for semantic reasons."""

from __future__ import annotations

import ast
import random

from harness.sampling.edits import Op, Reference, blocks, int_constants, nodes, pick, plus

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


def off_by_one(tree: ast.Module, ref: Reference, rng: random.Random) -> bool:
    """An integer constant, a ``range`` bound or an index moved by one."""
    ranges = [
        n
        for n in nodes(tree)
        if isinstance(n, ast.Call)
        and isinstance(n.func, ast.Name)
        and n.func.id == "range"
        and 1 <= len(n.args) <= 3
    ]
    indexes = [
        n
        for n in nodes(tree)
        if isinstance(n, ast.Subscript) and isinstance(n.slice, ast.Name | ast.BinOp)
    ]
    choices: list[ast.AST] = [*int_constants(tree), *ranges, *indexes]
    if not choices:
        return False
    node = rng.choice(choices)
    delta = rng.choice((1, -1))
    if isinstance(node, ast.Constant) and type(node.value) is int:
        node.value = node.value + delta
    elif isinstance(node, ast.Call):
        at = rng.randrange(min(len(node.args), 2))
        node.args[at] = plus(node.args[at], delta)
    elif isinstance(node, ast.Subscript):
        node.slice = plus(node.slice, delta)  # type: ignore[arg-type]
    return True


def flip_compare(tree: ast.Module, ref: Reference, rng: random.Random) -> bool:
    sites = [
        (n, i)
        for n in nodes(tree)
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
        for n in nodes(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, int | float | str | bool)
    ]
    node = pick(rng, sites)
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
        for n in nodes(tree)
        if (isinstance(n, ast.BinOp) and type(n.op) in SWAP_OP)
        or isinstance(n, ast.BoolOp)
        or (isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in SWAP_CALL)
        or (isinstance(n, ast.Attribute) and n.attr in SWAP_METHOD)
    ]
    node = pick(rng, sites)
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
        for n in nodes(tree)
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
    node = pick(rng, sites)
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
        (block, i) for block in blocks(tree) for i, s in enumerate(block) if isinstance(s, ast.If)
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
        for block in blocks(tree)
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
    sites: list[ast.AST] = [n for n in nodes(tree) if isinstance(n, ast.If | ast.While | ast.IfExp)]
    sites += [n for n in nodes(tree) if isinstance(n, ast.comprehension) and n.ifs]
    node = pick(rng, sites)
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
    returns = [n for n in nodes(tree) if isinstance(n, ast.Return) and n.value is not None]
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
