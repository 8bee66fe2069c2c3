"""Reads the candidates' code without running it: ast.parse and tokenize are allowed."""

import ast
import io
import tokenize

USES: set[str] = set()


def select(problem, candidates, probe):
    scores = []
    for candidate in candidates:
        try:
            tree = ast.parse(candidate.program)
            nodes = sum(1 for _ in ast.walk(tree))
            tokens = len(list(tokenize.generate_tokens(io.StringIO(candidate.program).readline)))
        except (SyntaxError, tokenize.TokenError):
            nodes, tokens = 0, 0
        scores.append(-float(nodes) - tokens / 1000.0)
    return scores
