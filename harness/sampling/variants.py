"""Variants of a reference solution for the simulated sampler: rewrites that keep its
behaviour (``rewrites.py``) and mutants that change it (``mutations.py``), rendered back to
text so that every variant parses.

Nothing here runs code. The simulated sampler executes the variants beside the reference on
probe inputs (never the hidden tests), keeps a rewrite only when it agrees with the reference
there, and tells mutants that are caught on those inputs from ones that are not.
"""

from __future__ import annotations

import ast
import random

from harness.sampling.edits import Reference, Variant
from harness.sampling.mutations import MUTATION_WEIGHTS, MUTATIONS
from harness.sampling.rewrites import REWRITES


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
