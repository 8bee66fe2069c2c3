"""Postprocessing of raw model output: stop sequences, function bodies, chat answers, asserts."""

from __future__ import annotations

from harness.sampling.postprocess import (
    chat_completion_body,
    cut_at_stop,
    extract_asserts,
    extract_code,
    function_body,
    resume_line,
)

PROMPT = 'def add(a, b):\n    """Return a + b."""\n'


def run(prompt: str, completion: str, call: str) -> object:
    namespace: dict = {}
    exec(prompt + completion, namespace)
    return eval(call, namespace)


def test_cut_at_the_earliest_stop_sequence() -> None:
    text = "    return a\n\nif x:\n    pass\ndef g():\n"
    assert cut_at_stop(text, ["\ndef", "\nif"]) == "    return a\n"
    assert cut_at_stop(text, []) == text
    assert cut_at_stop("", ["\ndef"]) == ""


def test_function_body_ends_at_the_first_line_at_column_zero() -> None:
    raw = "    x = a\n\n    return x + b\n\n\nprint(add(1, 2))\n    return 0\n"
    body = function_body(raw)
    assert body == "    x = a\n\n    return x + b\n"
    assert run(PROMPT, body, "add(1, 2)") == 3
    assert function_body("print('no body')\n") == ""


def test_a_chat_answer_gives_the_body_and_keeps_its_helpers() -> None:
    answer = (
        "Here you go:\n\n```python\nimport math\n\n"
        'def add(a, b):\n    """Sum."""\n    return helper(a) + b\n\n'
        "def helper(x):\n    return math.floor(x)\n\n"
        "print(add(1, 2))\n```\nIt works."
    )
    body = chat_completion_body(answer, "add")
    assert body.startswith("    return helper(a) + b\n")
    assert '"""Sum."""' not in body and "print(" not in body
    assert run(PROMPT, body, "add(1.5, 2)") == 3


def test_a_chat_answer_without_the_function_is_kept_as_is() -> None:
    assert chat_completion_body("```python\nx = (\n```", "add") == "x = (\n"
    assert chat_completion_body("I cannot help.", "add") == "I cannot help."
    assert extract_code("```\nplain\n```") == "plain\n"


def test_asserts_are_extracted_the_codet_way() -> None:
    text = (
        "assert add(1, 2) == 3\n"
        "assert add(\n    2, 2) == 4\n"  # over two lines
        "assert add(1, 1) == (\n"  # never closed: dropped
        "x = 5\n"
        "assert True\n"  # does not call the function: dropped
        "    assert add(0, 0) == 0, 'zero'\n"
        "assert add(5, 5) == 10\n"
    )
    found = extract_asserts(text, "add", max_asserts=5)
    assert found == [
        "assert add(1, 2) == 3",
        "assert add(\n2, 2) == 4",
        "assert add(0, 0) == 0, 'zero'",
        "assert add(5, 5) == 10",
    ]
    assert extract_asserts(text, "add", max_asserts=2) == found[:2]
    assert extract_asserts(text, "sub", max_asserts=5) == []


def test_the_prompt_tail_is_put_back_before_the_answer() -> None:
    prompt = PROMPT + "    pass\n\n# check the correctness of add\nassert "
    text = resume_line(prompt, "add(1, 2) == 3\nassert add(2, 3) == 5\n")
    assert extract_asserts(text, "add", 5) == ["assert add(1, 2) == 3", "assert add(2, 3) == 5"]
    assert resume_line("ends with a newline\n", "x") == "x"
