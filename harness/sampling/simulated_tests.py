"""The simulated backend's self-tests (see ``simulated.py`` for its candidates).

Each self-test sample writes a few ``assert f(args) == value`` lines on probe inputs (examples
more often; a low temperature repeats the same ones). A sample holds one understanding of the
problem: the reference's, or, with a probability that grows on harder problems and at higher
temperature, a likely mutant's (a model's misconception), whose outputs then stand as the
expected values; now and then a value is slipped (perturbed). Some samples end in a broken
line, which postprocessing drops.
"""

from __future__ import annotations

import ast
import math
import random

from harness.sampling.config import SamplingConfig, render
from harness.sampling.results import Completion, Generation
from harness.sampling.simulated import (
    SIMULATOR_VERSION,
    Library,
    approx_tokens,
    as_served,
    distribution,
    program_logits,
)

WRONG_BIAS = 0.2  # log-odds that a self-test sample follows a misconception (ease 0) ...
WRONG_EASE = 0.35  # ... less so on easier problems
SLIP = 0.05  # chance that one expected value is written wrong anyway


def sample_self_tests(lib: Library, config: SamplingConfig) -> Generation:
    """``config.self_tests.n`` simulated test-writing samples for one problem."""
    st = config.self_tests
    task = lib.task
    prompt = render(st.template, task.prompt, task.entry_point, task.task_id)
    rng = random.Random(f"winnow-sim-tests:{SIMULATOR_VERSION}:{config.seed}:{task.task_id}")
    logits = [
        -0.25 * i if p.source == "example" else -1.0 - 0.25 * i for i, p in enumerate(lib.inputs)
    ]
    wrong = 1.0 / (
        1.0 + math.exp(-(WRONG_BIAS - WRONG_EASE * lib.ease + 1.5 * (st.temperature - 0.8)))
    )
    beliefs = distribution(
        program_logits(lib)[len(lib.correct) : len(lib.correct) + len(lib.wrong)] or [0.0],
        max(0.5 * st.temperature, 0.05),
        1.0,
    )
    completions = []
    for _ in range(st.n):
        lines = []
        # One sample, one understanding: the reference's, or one mutant's (a likely one).
        belief = None
        if lib.wrong and rng.random() < wrong:
            belief = lib.marks[rng.choices(range(len(lib.wrong)), weights=beliefs)[0]]
        if lib.inputs:
            probs = distribution(logits, st.temperature, st.top_p)
            for _ in range(rng.randint(2, 6)):
                i = rng.choices(range(len(probs)), weights=probs)[0]
                value = lib.expected[i]
                mark = True if belief is None else belief[i]
                if isinstance(mark, str):
                    value = mark
                elif mark is None or rng.random() < SLIP:
                    value = _perturbed(value, rng)
                lines.append(f"assert {task.entry_point}({lib.inputs[i].args}) == {value}")
        if lines and rng.random() < 0.1 + 0.2 * st.temperature:
            lines[-1] = lines[-1][: rng.randrange(8, max(len(lines[-1]), 9))]
        text = "\n".join(lines) + rng.choice(TEST_AFTERWORDS)
        tail = prompt.rsplit("\n", 1)[-1]
        if tail.strip() and text.startswith(tail):
            text = text[len(tail) :]  # the prompt already ends with the start of the first line
        raw, tokens, finish = as_served(text, st.stop, st.max_tokens)
        completions.append(Completion(raw, tokens, None, finish))
    return Generation(task.task_id, prompt, approx_tokens(prompt), completions)


TEST_AFTERWORDS = (
    "\n\n\ndef check(candidate):\n    pass\n",
    "\n\n# more tests\n",
    "\nprint('ok')\n",
)


def _perturbed(value: str, rng: random.Random) -> str:
    """The expected value written wrong: a slip of one, a flipped bool, a reversed string..."""
    try:
        literal = ast.literal_eval(value)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return "None"
    if isinstance(literal, bool):
        return repr(not literal)
    if isinstance(literal, int):
        return repr(literal + rng.choice((1, -1, 2)))
    if isinstance(literal, float):
        return repr(literal + 0.5)
    if isinstance(literal, str):
        return repr(literal[::-1] if len(set(literal)) > 1 else literal + "a")
    if isinstance(literal, list | tuple) and literal:
        return repr(literal[:-1])
    if isinstance(literal, list | tuple):
        return repr(type(literal)([0]))
    return "None"
