"""The worked examples read from a prompt: each form on hand-written prompts, and what is left
out."""

from __future__ import annotations

from typing import Any

from harness.data.examples import Example, example_tests, parse_examples


def examples(prompt: str, entry_point: str = "f") -> list[tuple[str, str]]:
    return [(e.args, e.expected) for e in parse_examples(prompt, entry_point)]


# -- each form ------------------------------------------------------------------------------------


def test_doctest_values_run_to_a_blank_line_the_next_prompt_or_the_docstring_end() -> None:
    prompt = '''def f(xs, k=1):
    """Sum.
    >>> f([1, 2])
    3
    >>> f([[1, 2], [3]], k=2)
    [[1, 2],
     [3]]

    >>> f([])  # nothing shown: None, not guessed

    >>> f([5])
    5"""
'''
    assert parse_examples(prompt, "f") == [
        Example("[1, 2]", "3", "doctest"),
        Example("[[1, 2], [3]], k=2", "[[1, 2],\n [3]]", "doctest"),
        Example("[5]", "5", "doctest"),
    ]


def test_arrows_equals_and_returns_each_end_at_the_line_end() -> None:
    prompt = """
    f(1) ➞ 2
    f(2) -> 3
    * f(3) => 4
    f(4) ==> 5
    f(5) == 6
    f(6) = 7
    f(7) returns 8
    f(8) should return 9.
    f(9)   # returns 10
    f(10) # => 'Yes'
    1. f(11) == 12
    for f(12) == 13
    """
    forms = [e.form for e in parse_examples(prompt, "f")]
    assert forms == ["arrow"] * 4 + ["equals"] * 2 + ["returns"] * 3 + ["arrow"] + ["equals"] * 2
    assert examples(prompt) == [(str(n), str(n + 1)) for n in range(1, 10)] + [
        ("10", "'Yes'"),
        ("11", "12"),
        ("12", "13"),
    ]


def test_an_asserts_message_is_not_part_of_the_value() -> None:
    prompt = "assert f(1) == (2, 3)\nassert f(2) == 4, 'four'\nassert f(3) == 5, msg\n"
    assert examples(prompt) == [("1", "(2, 3)"), ("2", "4"), ("3", "5")]
    # a bare tuple outside an assert is a tuple or two values: not guessed
    assert examples("f(1) ➞ 2, 3\nf(2) == 4, 'four'\n") == []


def test_input_output_blocks_map_names_to_the_signature() -> None:
    prompt = '''def f(nums, k, flag=False):
    """
    Example 1:
        Input: k = 3, nums = [1, 2]
        Output: 4
    Example 2:
        Input: [5], 1
        Output: [5] # explanation
    Example 3:
        Input:
            nums = [[1, 2],
                    [3]], k = 0
        Output: 0
    Example 4:
        Input: nums = [1], k = 2, flag = True
        Output: 1
    Left out: a name the signature does not have, a required one missing, a non-literal.
        Input: numbers = [1], k = 1
        Output: 1
        Input: k = 1
        Output: 1
        Input: nums = x, k = 1
        Output: 1
    For nums = [7], k = 1 the output should be 8.
    For nums = [6], k = 2, the sum is 12, the result should be "x"
    """
'''
    assert parse_examples(prompt, "f") == [
        Example("[1, 2], 3", "4", "input"),
        Example("[5], 1", "[5]", "input"),
        Example("[[1, 2],\n                    [3]], 0", "0", "input"),
        Example("[1], 2, True", "1", "input"),
        Example("[7], 1", "8", "input"),
        Example("[6], 2", '"x"', "input"),
    ]
    assert examples(prompt.replace("def f(", "def g(")) == [("[5], 1", "[5]")]  # no signature


def test_prose_and_non_literals_are_left_out() -> None:
    prompt = """
    f(1) returns True if the list is sorted
    f(2) -> 19 - 5 - 6 = 8
    f(3) => true
    f(4) == 1 + 9
    f(5) ==  ""abc"
    f(n) == f(n - 1) + 1
    f(abc) => False
    f(6) [0, 1]
    round(f(7), 2) == 1.5
    >>> f(8)
    an error
    >>> f(9)
    Traceback (most recent call last):
    For N = 10, the sum of digits is 1
    f(11) should
        return 12
    Input: 13
    Output: the largest value
    """
    assert examples(prompt) == []


def test_strings_and_brackets_inside_arguments_and_values() -> None:
    prompt = """
    f(">>> f(0)") ➞ "a ➞ b"
    f(")(", [["]"]]) == {"k": (1, [2])}
    >>> f('x == 1')
    '==> 2'
    """
    assert examples(prompt) == [
        ('">>> f(0)"', '"a ➞ b"'),
        ('")(", [["]"]]', '{"k": (1, [2])}'),
        ("'x == 1'", "'==> 2'"),
    ]


def test_keyword_arguments_are_kept_as_written() -> None:
    assert examples("f(s='ab', n=2) == 'abab'\n>>> f('a', n=0)\n''\n") == [
        ("s='ab', n=2", "'abab'"),
        ("'a', n=0", "''"),
    ]


def test_only_calls_of_the_entry_point_itself() -> None:
    prompt = "my_f(1) == 2\nx.f(1) == 3\nfoo(1) ➞ 4\n>>> my_f(2)\n5\ndef f(a): f(1) == 6\n"
    assert examples(prompt) == []


def test_examples_are_distinct_and_in_prompt_order() -> None:
    prompt = """
    Input: 3
    Output: 9
    >>> f([1,2])
    [1, 2]

    f([1, 2]) == [1,2]
    f(3) == 9
    f(3) == 10
    """
    assert examples(prompt) == [("3", "9"), ("[1,2]", "[1, 2]"), ("3", "10")]


def test_example_tests_are_asserts_that_hold_for_a_correct_function() -> None:
    prompt = '>>> double([1, 2])\n[1, 2, 1, 2]\n\ndouble("ab") ➞ "abab"\ndouble(xs=[]) == []\n'
    tests = example_tests(parse_examples(prompt, "double"), "double")
    assert tests == [
        "assert double([1, 2]) == [1, 2, 1, 2]",
        'assert double("ab") == "abab"',
        "assert double(xs=[]) == []",
    ]
    scope: dict[str, Any] = {"double": lambda xs: xs * 2}
    for test in tests:
        exec(test, scope)  # the tests' own check that the asserts mean what they say
