"""Inputs the simulated sampler may run programs on, and the outputs it sees there.

The inputs never come from the hidden tests (they would leak into the self-tests). They are:

- *examples*: every call of the entry point with literal arguments written in the prompt
  (HumanEval's ``>>> f(1, 2)`` lines, ``f(3) ➞ 5``, ``f("a") == "b"``...);
- *generated*: argument tuples drawn from typical values of each parameter's type, read from
  its annotation (``List[int]``, ``str``...) or, without one, guessed from its name (``s``,
  ``nums``, ``test_tup``, ``n``...), kept only when the reference solution accepts them
  quickly. MBPP's prompts have no examples, so its problems get generated inputs only.

Outputs are read by running ``repr(f(args))`` in the sandbox: each run reports its value in
the message of the AssertionError it raises (the only text a sandboxed test sends back), so it
goes through the normal, cached, sandboxed execution path. A value longer than a report can
carry, or that is not a Python literal, is treated as unusable.
"""

from __future__ import annotations

import ast
import random
import re
from dataclasses import dataclass

from harness.data.calls import literal_calls
from harness.execution.executor import Executor

MARK_OPEN, MARK_CLOSE = "<<winnow-value:", ":winnow-value>>"
VALUES: dict[str, tuple[str, ...]] = {
    "int": ("0", "1", "2", "3", "5", "7", "10", "12", "-3", "100"),
    "float": ("0.5", "1.0", "2.5", "3.7", "-1.5", "10.0"),
    "str": ("''", "'a'", "'abc'", "'hello world'", "'Hello'", "'racecar'", "'12345'", "'aBc De'"),
    "bool": ("True", "False"),
    "list_int": ("[]", "[1]", "[1, 2, 3]", "[3, 1, 2]", "[5, -2, 0, 7, 7]", "[10, 20, 30, 40]"),
    "list_float": ("[1.0, 2.0, 3.0]", "[0.5, 1.5, 2.5, 3.5]", "[-1.0, 0.0, 1.0]"),
    "list_str": ("[]", "['a']", "['abc', 'de', 'f']", "['hello', 'world']", "['apple', 'kiwi']"),
    "list_list_int": ("[[1, 2], [3, 4]]", "[[1, 2, 3], [4, 5, 6], [7, 8, 9]]", "[[5], [2, 1]]"),
    "tuple_int": ("(1, 2, 3)", "(4, 5, 6, 7)", "(10, 4, 5, 6)", "(2,)"),
    "dict": ("{}", "{'a': 1, 'b': 2}", "{'x': 10, 'y': 20, 'z': 5}"),
}
UNKNOWN = ("int", "list_int", "str", "tuple_int", "float")  # families tried for an unknown type
NAME_HINTS: tuple[tuple[str, str], ...] = (  # (regex on the parameter name, family)
    (r"tup", "tuple_int"),
    (r"dict|^d$", "dict"),
    (r"str|text|word|sentence|char|^s\d?$|^txt$|string", "str"),
    (r"list|arr|nums|lst|numbers|^l\d?$|items|seq", "list_int"),
    (
        r"^(n|m|k|x|y|i|j|num|number|count|size|length|limit|start|end|low|high|base|h|w|r)\d?$",
        "int",
    ),
)


@dataclass(frozen=True)
class ProbeInput:
    """An argument list as source text, and where it came from."""

    args: str
    source: str  # example | generated


@dataclass(frozen=True)
class Output:
    """What a program gave on one input: ``ok`` with a literal, ``error`` or ``timeout``."""

    status: str
    value: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def example_inputs(prompt: str, entry_point: str) -> list[ProbeInput]:
    """Calls of ``entry_point`` with literal arguments in the prompt, in order, distinct."""
    return [ProbeInput(args, "example") for args in literal_calls(prompt, entry_point)]


def parameter_families(prompt: str, entry_point: str) -> list[tuple[str, ...]]:
    """For each parameter of the entry point, the value families to draw from."""
    try:
        tree = ast.parse(prompt + "    pass\n")
    except SyntaxError:
        return []
    functions = [
        n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == entry_point
    ]
    if not functions:
        return []
    arguments = functions[-1].args
    return [_family(a) for a in arguments.posonlyargs + arguments.args]


def _family(arg: ast.arg) -> tuple[str, ...]:
    if arg.annotation is not None:
        hint = ast.unparse(arg.annotation).lower().replace(" ", "").replace("typing.", "")
        table = {
            "int": "int",
            "float": "float",
            "str": "str",
            "bool": "bool",
            "list[int]": "list_int",
            "list[float]": "list_float",
            "list[str]": "list_str",
            "list[list[int]]": "list_list_int",
            "list": "list_int",
            "dict": "dict",
        }
        if hint in table:
            return (table[hint],)
        if hint.startswith("tuple"):
            return ("tuple_int",)
        if hint.startswith("dict"):
            return ("dict",)
        if hint.startswith("list"):
            return ("list_int", "list_str")
    name = arg.arg.lower()
    for pattern, family in NAME_HINTS:
        if re.search(pattern, name):
            return (family,)
    return UNKNOWN


def generated_inputs(
    families: list[tuple[str, ...]], rng: random.Random, trials: int
) -> list[ProbeInput]:
    """Up to ``trials`` distinct argument lists drawn from each parameter's families."""
    if not families:
        return []
    found: dict[str, ProbeInput] = {}
    for _ in range(trials * 3):
        if len(found) >= trials:
            break
        shared = rng.choice(UNKNOWN)  # unknown parameters often share a type
        parts = []
        for options in families:
            family = shared if options == UNKNOWN and rng.random() < 0.5 else rng.choice(options)
            parts.append(rng.choice(VALUES[family]))
        text = ", ".join(parts)
        found.setdefault(text, ProbeInput(text, "generated"))
    return list(found.values())


def value_test(entry_point: str, args: str) -> str:
    """A test that reports ``repr(entry_point(args))`` as its failure message."""
    return (
        f"__winnow_value = repr({entry_point}({args}))\n"
        f"raise AssertionError({MARK_OPEN!r} + __winnow_value + {MARK_CLOSE!r})"
    )


def run_outputs(
    executor: Executor, programs: list[tuple[str, str, list[ProbeInput]]]
) -> list[list[Output]]:
    """For each ``(program, entry_point, inputs)``, its output on every input (sandboxed)."""
    requests = [
        (program, [value_test(entry, p.args) for p in inputs])
        for program, entry, inputs in programs
    ]
    runs = executor.self_test(requests)
    return [[_read(outcome.status, outcome.detail) for outcome in row] for row in runs]


def _read(status: str, detail: str) -> Output:
    if status == "timeout":
        return Output("timeout")
    start = detail.find(MARK_OPEN)
    end = detail.rfind(MARK_CLOSE)
    if status != "failed" or start == -1:
        return Output("error", detail)
    if end == -1:
        return Output("error", "the value is too long to report")
    value = detail[start + len(MARK_OPEN) : end]
    try:
        ast.literal_eval(value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        if value != "set()":
            return Output("error", f"not a literal: {value[:60]}")
    return Output("ok", value)


# -- comparing variants with the reference ------------------------------------------------------

REPORT_BUDGET = 170  # characters of differing values a comparison reports (a report holds 300)


@dataclass(frozen=True)
class Comparison:
    """A variant beside the reference: ``status`` ok | timeout | error (it did not load), and
    per input: True (same output), a literal (a different output), or None (it raised, or
    its output differs but did not fit in the report)."""

    status: str
    marks: tuple[bool | str | None, ...] = ()

    @property
    def agrees(self) -> bool:
        return self.status == "ok" and all(m is True for m in self.marks)


def variants_setup(prompt: str, completions: list[str], entry_point: str) -> str:
    """A program that loads every variant in its own namespace (a load failure is kept as the
    exception); ``__winnow_functions[k]`` is variant k's entry point."""
    sources = [prompt + c for c in completions]
    return (
        f"__winnow_functions = []\n"
        f"for __winnow_source in {sources!r}:\n"
        f"    __winnow_ns = {{}}\n"
        f"    try:\n"
        f"        exec(__winnow_source, __winnow_ns)\n"
        f"        __winnow_functions.append(__winnow_ns[{entry_point!r}])\n"
        f"    except Exception as __winnow_error:\n"
        f"        __winnow_functions.append(__winnow_error)\n"
    )


def comparison_test(k: int, inputs: list[ProbeInput], expected: list[str]) -> str:
    """A test that runs variant k on every input and reports how it compares (one report)."""
    lines = [
        f"__winnow_f = __winnow_functions[{k}]",
        "if isinstance(__winnow_f, Exception):",
        f"    raise AssertionError({MARK_OPEN!r} + 'load' + {MARK_CLOSE!r})",
        "__winnow_marks, __winnow_room = [], " + str(REPORT_BUDGET),
    ]
    for probe_input, value in zip(inputs, expected, strict=True):
        lines += [
            "try:",
            f"    __winnow_v = repr(__winnow_f({probe_input.args}))",
            "except Exception:",
            "    __winnow_v = None",
            f"if __winnow_v == {value!r}:",
            "    __winnow_marks.append(True)",
            "elif __winnow_v is not None and len(repr(__winnow_v)) + 2 < __winnow_room:",
            "    __winnow_marks.append(__winnow_v)",
            "    __winnow_room -= len(repr(__winnow_v)) + 2",
            "else:",
            "    __winnow_marks.append(None)",
        ]
    lines.append(f"raise AssertionError({MARK_OPEN!r} + repr(__winnow_marks) + {MARK_CLOSE!r})")
    return "\n".join(lines)


def compare_variants(
    executor: Executor,
    problems: list[tuple[str, str, list[str], list[ProbeInput], list[str]]],
) -> list[list[Comparison]]:
    """For each ``(prompt, entry_point, completions, inputs, expected)``, every completion
    compared with the reference's outputs; one sandbox job per problem."""
    requests = [
        (
            variants_setup(prompt, completions, entry),
            [comparison_test(k, inputs, expected) for k in range(len(completions))],
        )
        for prompt, entry, completions, inputs, expected in problems
    ]
    runs = executor.self_test(requests)
    return [[_comparison(o.status, o.detail) for o in row] for row in runs]


def _comparison(status: str, detail: str) -> Comparison:
    read = _read(status, detail)
    if read.status == "timeout":
        return Comparison("timeout")
    if not read.ok:  # includes a variant that did not load
        return Comparison("error")
    marks = ast.literal_eval(read.value)
    return Comparison("ok", tuple(m if m is True or m is None else str(m) for m in marks))
