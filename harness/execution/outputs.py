"""What a candidate returns on an input, as a canonical text, through the sandbox and the cache.

An output is read by a test (:func:`output_test`) that calls the entry point on one argument
list in the candidate's namespace and reports the value in the message of the AssertionError it
raises: the only text a sandboxed test sends back. So each (candidate, input) is one ordinary,
cached, sandboxed execution, exactly like a self-test. The canonical form is defined once per
job, after the candidate's own code (:func:`output_program`), not once per test.

The canonical text (:data:`CANON`, run inside the sandbox) makes values that compare equal read
the same: ``1``, ``1.0`` and ``True`` read ``1``; floats are rounded to 12 significant digits
(``0.1 + 0.2`` reads like ``0.3``); sets and dicts are sorted; a list and a tuple differ (they
are never equal); ``nan`` reads ``nan``. An object of another type reads ``<TypeName>`` (never
its repr, which may hold an address). A text longer than :data:`LIMIT` characters keeps its
start and ends with a hash of the whole, so long values still compare exactly. An exception
reads ``!TypeName``, a timeout ``!timeout``, a program that does not load ``!load``: a text
starting with ``!`` is never a value.
"""

from __future__ import annotations

import inspect

from harness.execution.sandbox import Outcome

MARK_OPEN, MARK_CLOSE = "<<winnow-output:", ":winnow-output>>"
LIMIT = 200  # characters of a canonical text kept whole (a worker's report holds 300)
ERROR = "!"  # the first character of every output that is not a value
TIMEOUT, NOT_LOADED = "!timeout", "!load"


def canonical(value: object, depth: int = 0) -> str:
    """The canonical text of a value (see the module docstring). The same function runs in the
    sandbox, on what a candidate returns (:data:`CANON` is its source), and here, on what a
    prompt's example says it should return."""
    import math

    if depth > 30:
        return "..."
    kind = type(value)
    if value is None:
        return "None"
    if kind is bool or kind is int:
        return str(int(value))  # type: ignore[call-overload]
    if kind is float:
        assert isinstance(value, float)
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        rounded = float(format(value, ".12g"))
        if rounded.is_integer() and abs(rounded) < 1e16:
            return str(int(rounded))
        return repr(rounded)
    if kind is complex:
        assert isinstance(value, complex)
        return "complex(" + canonical(value.real) + ", " + canonical(value.imag) + ")"
    if kind is str or kind is bytes:
        return repr(value)
    if kind is list or kind is tuple:
        assert isinstance(value, list | tuple)
        inner = ", ".join(canonical(v, depth + 1) for v in value)
        if kind is list:
            return "[" + inner + "]"
        return "(" + inner + (",)" if len(value) == 1 else ")")
    if kind is set or kind is frozenset:
        assert isinstance(value, set | frozenset)
        if not value:
            return "set()"
        return "{" + ", ".join(sorted(canonical(v, depth + 1) for v in value)) + "}"
    if kind is dict:
        assert isinstance(value, dict)
        items = sorted(
            canonical(k, depth + 1) + ": " + canonical(v, depth + 1) for k, v in value.items()
        )
        return "{" + ", ".join(items) + "}"
    if kind is range:
        assert isinstance(value, range)
        return "range(" + str(value.start) + ", " + str(value.stop) + ", " + str(value.step) + ")"
    return "<" + kind.__name__ + ">"


# The same function as the sandbox runs it, defined after a candidate's program: its own name,
# and no annotations or asserts that a program could disturb.
CANON = "\n".join(
    line
    for line in inspect.getsource(canonical)
    .replace("canonical(", "__winnow_canon(")
    .replace("value: object, depth: int = 0) -> str:", "value, depth=0):")
    .splitlines()
    if not line.lstrip().startswith("assert ")  # for mypy only
)


def output_program(program: str) -> str:
    """A candidate's program with the canonical form defined after it (its own code runs first,
    so it cannot replace the definition)."""
    return f"{program}\n{CANON}"


def output_test(entry_point: str, args: str) -> str:
    """A test that reports the canonical text of ``entry_point(args)`` (see the module); it runs
    in the namespace of :func:`output_program`."""
    return f"""
try:
    __winnow_text = __winnow_canon({entry_point}({args}))
except Exception as __winnow_error:
    __winnow_text = {ERROR!r} + type(__winnow_error).__name__
if len(__winnow_text) > {LIMIT}:
    import hashlib as __winnow_hashlib
    __winnow_digest = __winnow_hashlib.sha256(__winnow_text.encode()).hexdigest()[:16]
    __winnow_text = __winnow_text[:{LIMIT - 40}] + '...#' + __winnow_digest
raise AssertionError({MARK_OPEN!r} + __winnow_text + {MARK_CLOSE!r})
"""


def read_output(outcome: Outcome) -> str:
    """The canonical text an output test reported, or what went wrong instead (``!...``)."""
    if outcome.status == "timeout":
        return TIMEOUT
    detail = outcome.detail
    start, end = detail.find(MARK_OPEN), detail.rfind(MARK_CLOSE)
    if outcome.status == "failed" and start != -1 and end > start:
        return detail[start + len(MARK_OPEN) : end]
    if detail.startswith("the program did not load"):
        return NOT_LOADED
    name = detail.split(":", 1)[0].strip()
    return ERROR + (name if name.isidentifier() else "error")
