"""Turning raw model output into pool entries: completions and self-test asserts.

Every backend's output goes through the same steps (the simulated one included):

- candidates, ``text`` endpoint (prompt continuation, as HumanEval is posed): cut at the first
  stop sequence, then keep the function body: the lines up to the first non-blank line that
  starts at column 0 (whatever follows the function is not part of the answer);
- candidates, ``chat`` endpoint: take the code (fenced blocks when there are any), find the
  entry point's ``def``, keep its body without the docstring (re-indented to 4 spaces), and
  keep the module-level imports and helper definitions after it: they run before the tests do;
- self-tests: cut at the first stop sequence; when the prompt ends inside a line (``assert ``),
  that line is put back in front of the response; then every ``assert`` statement that parses
  and names the entry point is kept, up to ``max_asserts`` per sample (CodeT's rule); the rest
  is dropped.
"""

from __future__ import annotations

import ast
import re
import textwrap

FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
ASSERT_SPAN = 6  # lines an assert statement may run over


def cut_at_stop(text: str, stop: tuple[str, ...] | list[str]) -> str:
    """``text`` up to the earliest occurrence of any stop sequence."""
    cut = len(text)
    for sequence in stop:
        at = text.find(sequence)
        if at != -1:
            cut = min(cut, at)
    return text[:cut]


def function_body(continuation: str) -> str:
    """The indented lines that continue a function, up to the first line at column 0."""
    kept = []
    for line in continuation.splitlines(keepends=True):
        if line.strip() and not line[0].isspace():
            break
        kept.append(line)
    body = "".join(kept).rstrip()
    return body + "\n" if body else ""


def extract_code(text: str) -> str:
    """The code in a chat answer: its fenced blocks (python ones first), or the whole text."""
    blocks = FENCE.findall(text)
    if not blocks:
        return text
    python = [body for lang, body in blocks if lang.lower() in ("python", "py", "python3")]
    return "\n".join(python or [body for _, body in blocks])


def chat_completion_body(answer: str, entry_point: str) -> str:
    """What to append to the prompt for a chat answer that defines ``entry_point``.

    The function's body (docstring dropped, indented 4 spaces) followed by the other
    module-level imports, functions, classes and assignments of the answer. An answer that
    does not parse or does not define the function is returned as its code, unchanged: it will
    fail on its own merits.
    """
    code = extract_code(answer)
    try:
        module = ast.parse(code)
    except SyntaxError:
        return code
    lines = code.splitlines()
    target = next(
        (
            node
            for node in module.body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == entry_point
        ),
        None,
    )
    if target is None:
        return code
    body = target.body
    if _is_docstring(body[0]) and len(body) > 1:
        body = body[1:]
    start = body[0].lineno - 1
    end = target.end_lineno or len(lines)
    inner = textwrap.indent(textwrap.dedent("\n".join(lines[start:end])), "    ") + "\n"
    keep = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    keep_assign = (ast.Assign, ast.AnnAssign)
    extra = []
    for node in module.body:
        if node is target or not (isinstance(node, keep + keep_assign)):
            continue
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        extra.append("\n".join(lines[first - 1 : node.end_lineno]))
    return inner + ("\n\n" + "\n\n".join(extra) + "\n" if extra else "")


def _is_docstring(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def resume_line(prompt: str, response: str) -> str:
    """Put back the partial last line of ``prompt`` (e.g. ``assert ``) before ``response``."""
    tail = prompt.rsplit("\n", 1)[-1]
    return tail + response if tail.strip() else response


def extract_asserts(text: str, entry_point: str, max_asserts: int) -> list[str]:
    """The first ``max_asserts`` assert statements in ``text`` that parse and name
    ``entry_point``, in order, each as written (dedented)."""
    lines = text.splitlines()
    found: list[str] = []
    i = 0
    while i < len(lines) and len(found) < max_asserts:
        if not lines[i].lstrip().startswith("assert"):
            i += 1
            continue
        statement, used = _statement_at(lines, i)
        i += max(used, 1)
        if statement is not None and _names(statement, entry_point):
            found.append(statement)
    return found


def _statement_at(lines: list[str], start: int) -> tuple[str | None, int]:
    """The shortest run of lines from ``start`` that parses as one assert statement."""
    for span in range(1, ASSERT_SPAN + 1):
        chunk = "\n".join(line.strip() for line in lines[start : start + span])
        try:
            module = ast.parse(chunk)
        except SyntaxError:
            if start + span >= len(lines):
                break
            continue
        if len(module.body) == 1 and isinstance(module.body[0], ast.Assert):
            return ast.get_source_segment(chunk, module.body[0]) or chunk, span
        return None, span
    return None, 1


def _names(statement: str, entry_point: str) -> bool:
    tree = ast.parse(statement)
    return any(isinstance(n, ast.Name) and n.id == entry_point for n in ast.walk(tree))
