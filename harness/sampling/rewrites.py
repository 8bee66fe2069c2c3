"""Rewrites that keep a reference solution's behaviour: rename a local, mirror a comparison,
commute a product, expand ``x += 1``, return through a variable, turn a conditional expression
into an ``if``, invert an ``if``, turn a comprehension into a loop. Each is checked afterwards,
in the sandbox, against the reference on the probe inputs (``simulated.py``)."""

from __future__ import annotations

import ast
import random

from harness.sampling.edits import Op, Reference, blocks, fresh_name, nodes, pick, pure

MIRROR: dict[type, type] = {
    ast.Lt: ast.Gt,
    ast.Gt: ast.Lt,
    ast.LtE: ast.GtE,
    ast.GtE: ast.LtE,
    ast.Eq: ast.Eq,
    ast.NotEq: ast.NotEq,
}


def rename_local(tree: ast.Module, ref: Reference, rng: random.Random) -> bool:
    declared = {
        name for n in nodes(tree) if isinstance(n, ast.Global | ast.Nonlocal) for name in n.names
    }
    stored = {n.id for n in nodes(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    candidates = sorted(stored - set(ref.params) - declared - {ref.entry_point})
    if not candidates:
        return False
    old, new = rng.choice(candidates), fresh_name(ref, tree, rng)
    for node in nodes(tree):
        if isinstance(node, ast.Name) and node.id == old:
            node.id = new
        elif isinstance(node, ast.arg) and node.arg == old:
            node.arg = new
    return True


def mirror_compare(tree: ast.Module, ref: Reference, rng: random.Random) -> bool:
    sites = [
        n
        for n in nodes(tree)
        if isinstance(n, ast.Compare) and len(n.ops) == 1 and type(n.ops[0]) in MIRROR and pure(n)
    ]
    node = pick(rng, sites)
    if not isinstance(node, ast.Compare):
        return False
    node.left, node.comparators = node.comparators[0], [node.left]
    node.ops = [MIRROR[type(node.ops[0])]()]
    return True


def commute_mult(tree: ast.Module, ref: Reference, rng: random.Random) -> bool:
    sites = [n for n in nodes(tree) if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Mult)]
    node = pick(rng, [n for n in sites if pure(n)])
    if not isinstance(node, ast.BinOp):
        return False
    node.left, node.right = node.right, node.left
    return True


def expand_augassign(tree: ast.Module, ref: Reference, rng: random.Random) -> bool:
    for block in rng.sample(blocks(tree), len(blocks(tree))):
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
        for block in blocks(tree)
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
    name = fresh_name(ref, tree, rng)
    block[i : i + 1] = [
        ast.Assign([ast.Name(name, ast.Store())], stmt.value),
        ast.Return(ast.Name(name, ast.Load())),
    ]
    return True


def ternary_to_if(tree: ast.Module, ref: Reference, rng: random.Random) -> bool:
    for block in blocks(tree):
        for i, stmt in enumerate(block):
            if isinstance(stmt, ast.Return) and isinstance(stmt.value, ast.IfExp):
                e = stmt.value
                block[i] = ast.If(e.test, [ast.Return(e.body)], [ast.Return(e.orelse)])
                return True
    return False


def invert_if(tree: ast.Module, ref: Reference, rng: random.Random) -> bool:
    sites = [n for n in nodes(tree) if isinstance(n, ast.If) and n.orelse]
    node = pick(rng, sites)
    if not isinstance(node, ast.If):
        return False
    node.test = ast.UnaryOp(ast.Not(), node.test)
    node.body, node.orelse = node.orelse, node.body
    return True


def comprehension_to_loop(tree: ast.Module, ref: Reference, rng: random.Random) -> bool:
    for block in blocks(tree):
        for i, stmt in enumerate(block):
            comp = stmt.value if isinstance(stmt, ast.Return) else None
            if not isinstance(comp, ast.ListComp) or len(comp.generators) != 1:
                continue
            gen = comp.generators[0]
            targets = {n.id for n in ast.walk(gen.target) if isinstance(n, ast.Name)}
            inside = {id(n) for n in ast.walk(comp)}
            clash = any(
                isinstance(n, ast.Name) and n.id in targets and id(n) not in inside
                for n in nodes(tree)
            )
            if clash or gen.is_async:
                continue
            name = fresh_name(ref, tree, rng)
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
