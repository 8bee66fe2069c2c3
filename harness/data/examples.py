"""The worked examples a problem's prompt states: read, never run (``ast`` only).

A user's strongest evidence: part of the problem statement, there whenever a prompt carries
examples. :func:`parse_examples` reads them in these forms, the entry point ``f`` being called
with literal arguments (the calls found by :func:`harness.data.calls.find_calls`):

- doctest: ``>>> f(args)`` alone on its line, the expected value on the line(s) below, up to a
  blank line, the next ``>>>`` or the docstring's end (so it may span several lines);
- a marker after the call, the expected value running to the end of the line: ``f(args) ➞ value``,
  ``->``, ``=>``, ``==>`` (form ``arrow``), ``==``, ``=`` (``equals``), ``returns``, ``should
  return`` (``returns``); a ``#`` may come before the marker (``f(1)  # returns 2``). The call
  must start its line, after at most a ``>>>``, a bullet (``*``, ``-``, ``1.``), ``assert`` or
  ``for``; an assert's message is not part of the value;
- inputs given by name or position (form ``input``): LeetCode's ``Input: nums = [1, 2], k = 3``
  then ``Output: 4`` (``Input: [1, 2], 3`` positional), and ``For nums = [1, 2] the output
  should be 4`` (or ``the result should be``; prose after the inputs, ``For n = 5, the sum is 2
  the output...``, is skipped at a comma). Names are mapped to the entry point's parameters, read
  from its ``def`` in the prompt: the named ones must be the next parameters in the signature,
  any left over must have defaults.

Left out, never guessed: the lines of a recurrence that defines the function (a run of consecutive
``f(...) <marker> ...`` lines of which one calls ``f`` with a variable, ``f(n) -> f(n-1) + ...``, or
on its right-hand side, ``f(3) = f(2) + f(1)``): they define the sequence, and the function may
return something else (HumanEval's ``tri`` returns a list of its terms); an expected value that is
not a Python literal ``ast.literal_eval`` accepts (prose, ``true``, ``1 + 9 = 10``, an unbalanced
quote, ``1, 2`` bare outside an assert), arguments that are not literals (``f(n)``, ``f(abc)``), a
call inside another expression (``round(f(x), 2)``), a call of another name (``my_f(1)``, a misnamed
function), named inputs that do not match the signature. A comment or a sentence's final period
after the value is not part of it. Examples are distinct (spacing and quoting aside), in prompt
order.
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass
from typing import Literal

from harness.data.calls import enclosed, find_calls

Form = Literal["doctest", "arrow", "equals", "returns", "input"]

_FORMS: dict[str, Form] = {"➞": "arrow", "==>": "arrow", "=>": "arrow", "->": "arrow"}
_FORMS |= {"==": "equals", "=": "equals", "returns": "returns", "should return": "returns"}
# what may stand between a line's start and a call that states an example
_BEFORE = re.compile(
    r"[ \t]*(>>>)?[ \t]*(?:(?:[*-]|\d+[.)])[ \t]+)?"  # a doctest prompt, a bullet
    r"(?:(assert)[ \t]+|for[ \t]+)?",
    re.I,
)
_MARKER = re.compile(r"[ \t]*(?:#[ \t]*)?(➞|==>|=>|->|==|=(?![=>])|returns\b|should[ \t]+return\b)")
_INPUT_OUTPUT = re.compile(
    r"^[ \t]*Input[ \t]*:(?P<args>.*\n(?:[ \t]*\S.*\n)*?)[ \t]*Output[ \t]*:(?P<value>.*)", re.M
)
_FOR_OUTPUT = re.compile(
    r"^[ \t]*For[ \t]+(?P<args>.+?)[ \t,]*the[ \t]+(?:output|result)[ \t]+should[ \t]+be[ \t]+"
    r"(?P<value>.*)",
    re.M | re.I,
)
_UNREADABLE = (SyntaxError, ValueError, TypeError, MemoryError, RecursionError)


@dataclass(frozen=True)
class Example:
    """A worked example of the prompt: ``entry_point(args)`` should give ``expected``."""

    args: str  # the argument list as source: "[1, 2], 3"
    expected: str  # the expected value as a Python literal's source: "4"
    form: Form  # how the prompt wrote it (see the module docstring)


def parse_examples(prompt: str, entry_point: str) -> list[Example]:
    """The examples ``prompt`` states for ``entry_point``, distinct, in prompt order."""
    found: list[tuple[int, Example]] = []
    recurrence = _recurrence_lines(prompt, entry_point)
    for call in find_calls(prompt, entry_point):
        line_start = prompt.rfind("\n", 0, call.start) + 1
        before = _BEFORE.fullmatch(prompt, line_start, call.start)
        if before is None:
            continue
        line_end = len(prompt) if (end := prompt.find("\n", call.end)) < 0 else end
        marker = _MARKER.match(prompt, call.end, line_end)
        if marker and line_start in recurrence:
            continue
        if marker:
            form = _FORMS[re.sub(r"\s+", " ", marker.group(1))]
            rest = prompt[marker.end() : line_end]
            value = _literal(rest, message=bool(before.group(2)) and form == "equals")
        elif before.group(1) and prompt[call.end : line_end].strip()[:1] in ("", "#"):
            form, value = "doctest", _doctest_output(prompt[line_end + 1 :])
        else:
            continue
        if value is not None:
            found.append((call.start, Example(call.args, value, form)))
    parameters = _parameters(prompt, entry_point)
    for pattern in (_INPUT_OUTPUT, _FOR_OUTPUT):
        for match in pattern.finditer(prompt):
            args = _named_args(match.group("args"), parameters, cut=pattern is _FOR_OUTPUT)
            value = _literal(match.group("value"))
            if args is not None and value is not None:
                found.append((match.start(), Example(args, value, "input")))
    distinct: dict[str, Example] = {}
    for _, example in sorted(found, key=lambda pair: pair[0]):
        same = ast.unparse(ast.parse(f"f({example.args}) == ({example.expected})", mode="eval"))
        distinct.setdefault(same, example)
    return list(distinct.values())


def _recurrence_lines(prompt: str, entry_point: str) -> set[int]:
    """The starts of the lines that belong to a recurrence defining ``entry_point`` (see the
    module docstring): runs of consecutive lines that open with a call of it and a marker."""
    call = re.compile(rf"(?<![\w.]){re.escape(entry_point)}\s*\(")
    runs: list[list[tuple[int, bool]]] = [[]]
    start = 0
    for line in prompt.splitlines(keepends=True):
        head = _BEFORE.match(line)
        opening = call.match(line, head.end() if head else 0)
        args = enclosed(line, opening.end() - 1) if opening else None
        marker = (
            _MARKER.match(line, opening.end() + len(args) + 1)
            if opening and args is not None
            else None
        )
        if marker is None:
            runs.append([])
        else:
            defines = not _literals(args or "") or bool(call.search(line, marker.end()))
            runs[-1].append((start, defines))
        start += len(line)
    return {at for run in runs if any(d for _, d in run) for at, _ in run}


def _literals(args: str) -> bool:
    """Whether an argument list holds literals only."""
    try:
        call = ast.parse(f"f({args})", mode="eval").body
        assert isinstance(call, ast.Call)
        for arg in [*call.args, *(k.value for k in call.keywords)]:
            ast.literal_eval(arg)
    except (*_UNREADABLE, AssertionError):
        return False
    return True


def example_tests(examples: list[Example], entry_point: str) -> list[str]:
    """Each example as an assert statement: ``assert f(args) == expected``."""
    return [f"assert {entry_point}({e.args}) == {e.expected}" for e in examples]


def _literal(text: str, message: bool = False) -> str | None:
    """The source of the Python literal ``text`` holds (a comment or a final period after it
    dropped), or None. With ``message``, ``text`` ends an assert: ``2, "msg"`` holds ``2``."""
    text = text.strip()
    for source in dict.fromkeys([text.removesuffix("."), text]):
        try:
            node = ast.parse(source, mode="eval").body
            if isinstance(node, ast.Tuple) and _bare(node):
                if not message or len(node.elts) != 2:
                    continue  # "1, 2": a tuple, or two values? Not guessed.
                node = node.elts[0]
            ast.literal_eval(node)
        except _UNREADABLE:
            continue
        return ast.get_source_segment(source, node)
    return None


def _bare(node: ast.Tuple) -> bool:
    """Whether a tuple is written without its parentheses (it starts where its first item does)."""
    first = node.elts[0] if node.elts else None
    return first is not None and (first.lineno, first.col_offset) == (node.lineno, node.col_offset)


def _doctest_output(below: str) -> str | None:
    """The value a ``>>>`` line shows in ``below``, the text after that line."""
    lines = []
    for line in below.split("\n"):
        if not line.strip() or line.lstrip().startswith(">>>"):
            break
        quotes = [i for i in (line.find('"""'), line.find("'''")) if i >= 0]
        lines.append(line[: min(quotes)] if quotes else line)
        if quotes:
            break
    return _literal(textwrap.dedent("\n".join(lines))) if lines else None


def _parameters(prompt: str, entry_point: str) -> tuple[list[str], int] | None:
    """The names of the entry point's positional parameters, and how many have no default."""
    match = re.search(rf"\bdef\s+{re.escape(entry_point)}\s*\(", prompt)
    inside = enclosed(prompt, match.end() - 1) if match else None
    try:
        definition = ast.parse(f"def f({inside}): pass").body[0] if inside is not None else None
    except _UNREADABLE:
        return None
    if not isinstance(definition, ast.FunctionDef):
        return None
    names = [a.arg for a in [*definition.args.posonlyargs, *definition.args.args]]
    return names, len(names) - len(definition.args.defaults)


def _named_args(text: str, parameters: tuple[list[str], int] | None, cut: bool) -> str | None:
    """``text`` (``[1, 2], 3`` or ``nums = [1, 2], k = 3``) as a positional argument list, the
    names put in the signature's order; with ``cut``, prose after a comma is dropped."""
    text = text.strip()
    ends = [len(text)] + [i for i in range(len(text) - 1, 0, -1) if cut and text[i] == ","]
    for end in ends:
        source = f"f({text[:end].strip().removesuffix(',')})"
        try:
            call = ast.parse(source, mode="eval").body
            if not isinstance(call, ast.Call):  # "1) or (2": not an argument list
                continue
            values = [*call.args, *(k.value for k in call.keywords)]
            for value in values:
                ast.literal_eval(value)
        except _UNREADABLE:
            continue
        named = {k.arg: k.value for k in call.keywords}
        if named:
            if parameters is None or len(named) != len(call.keywords):  # "k=1, k=2"
                continue
            names, required = parameters
            given = names[len(call.args) : len(call.args) + len(named)]
            if set(given) != set(named) or len(call.args) + len(named) < required:
                continue
            values = [*call.args, *(named[name] for name in given)]
        if values:
            return ", ".join(str(ast.get_source_segment(source, v)) for v in values)
    return None
