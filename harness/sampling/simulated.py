"""The simulated backend: candidates and self-tests without a model. Every pool it makes is
labelled SIMULATED.

For each problem it builds a *library* once (deterministic, cached execution): the reference
solution and a few rewrites of it (kept only when they agree with the reference on the probe
inputs), a dozen mutants (see ``variants.py``), and the probe inputs with the reference's
outputs on them (see ``probe_inputs.py``: docstring examples and signature-based inputs, never the
hidden tests). Mutants that time out on a probe input are dropped, so labelling a simulated
pool stays fast.

Sampling then treats the library like a model's output distribution over whole programs:

- each program has a logit: correct ones ``ease`` (the problem's ease: fixed per problem,
  lower for longer references, with a seeded spread that gives many easy problems and a long
  tail of hard ones), rewrites a little below, mutants around 0 (those no probe input catches
  lower still), and a long tail of ``TAIL_SIZE`` broken completions (truncated, ``pass``,
  returning the input) at ``TAIL_LOGIT`` each;
- a sample is drawn from ``softmax(logits / temperature)`` after ``top_p`` nucleus truncation
  (temperature 0 is greedy): a low temperature repeats the most likely program (pass@1 high
  where that one is right, coverage low); a high one spreads over mutants and the broken tail
  (pass@1 lower, pass@k higher); ``top_p`` cuts the tail;
- the drawn program gets surface changes (comments) more often at higher temperature, is
  followed by the text a model writes after a function (cut by the stop sequences, or running
  on to ``max_tokens`` without them), and is truncated at ``max_tokens``;
- its mean logprob is the program's log-probability at temperature 1 spread over its tokens.

Self-tests: see ``simulated_tests.py``.

Token counts are estimates (words, punctuation marks and line starts), flagged as such.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, field

import harness.sampling.probe_inputs as probe_inputs
from harness.data.suites import Task
from harness.execution.executor import ExecSettings, Executor
from harness.sampling.config import SamplingConfig, render
from harness.sampling.edits import Reference, UnusableReference, Variant
from harness.sampling.edits import parse_reference as take_apart
from harness.sampling.results import Completion, Generation, Progress
from harness.sampling.variants import make_variants

SIMULATOR_VERSION = 1  # bump when a change here changes what is sampled
REWRITES = 5  # behaviour-keeping variants tried per problem
MUTANTS = 14  # mutants tried per problem
EXAMPLES_KEPT = 6  # docstring examples kept as probe inputs
GENERATED_KEPT = 6  # generated probe inputs kept
TRIALS = 20  # generated inputs tried on the reference
TAIL_SIZE = 40  # members of the long tail of broken completions
TAIL_LOGIT = -4.0  # logit of each tail member
PLAUSIBLE_BONUS = 1.0  # extra logit of a mutant that passes the prompt's examples
EASE_MEAN = -0.8  # ease of a problem of typical length (logit of its reference)
EASE_LENGTH = 1.3  # ease lost per e-fold of reference length
EASE_SPREAD = 2.2  # standard deviation of the per-problem ease
LOG_LENGTH = math.log(40.0)  # log of a typical reference length, in tokens
TOKEN_LOGPROB = -0.12  # mean logprob of a token of an unsurprising program
# Time limits for the simulator's own runs: generous next to a reference's few milliseconds, so
# that only programs that hang (mutants looping forever) time out, whatever the machine's load.
LIBRARY_EXEC = ExecSettings(test_timeout=0.25, setup_timeout=2.0)
TOKEN = re.compile(r"\w+|[^\w\s]|\n[ \t]*")


def approx_tokens(text: str) -> int:
    """A rough token count: words, punctuation marks and line starts."""
    return len(TOKEN.findall(text))


@dataclass
class Library:
    """Everything the simulator samples from for one problem."""

    task: Task
    ease: float
    correct: list[Variant]
    wrong: list[Variant]
    caught: list[bool]  # per wrong variant: whether a probe input tells it from the reference
    plausible: list[bool] = field(default_factory=list)  # per wrong variant: passes the examples
    params: tuple[str, ...] = ()  # the entry point's parameter names
    inputs: list[probe_inputs.ProbeInput] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)  # the reference's output per input
    marks: list[tuple[bool | str | None, ...]] = field(default_factory=list)  # per wrong variant:
    # per input, True (the reference's output), its own output, or None (raised / too long)


def ease_of(task: Task) -> float:
    """The problem's ease (fixed per task: the simulated model does not change with seeds)."""
    spread = random.Random(f"winnow-sim-ease:{task.task_id}").gauss(0.0, 1.0)
    length = max(approx_tokens(task.canonical_solution or ""), 1)
    return EASE_MEAN - EASE_LENGTH * (math.log(length) - LOG_LENGTH) + EASE_SPREAD * spread


def build_libraries(
    tasks: list[Task], executor: Executor, progress: Progress | None = None
) -> tuple[list[Library], dict[str, str]]:
    """Libraries for the tasks that have a usable reference; the others with the reason."""
    skipped: dict[str, str] = {}
    refs: list[tuple[Task, Reference]] = []
    for task in tasks:
        if not task.canonical_solution:
            skipped[task.task_id] = "no canonical_solution to simulate from"
            continue
        try:
            refs.append((task, take_apart(task.prompt, task.canonical_solution, task.entry_point)))
        except UnusableReference as exc:
            skipped[task.task_id] = str(exc)
    if progress:
        progress("simulating: reference outputs", 0, len(refs))
    tried = []
    for task, _ in refs:
        rng = random.Random(f"winnow-sim-inputs:{SIMULATOR_VERSION}:{task.task_id}")
        families = probe_inputs.parameter_families(task.prompt, task.entry_point)
        tried.append(
            probe_inputs.example_inputs(task.prompt, task.entry_point)
            + probe_inputs.generated_inputs(families, rng, TRIALS)
        )
    reference_runs = probe_inputs.run_outputs(
        executor,
        [
            (task.prompt + ref.completion, task.entry_point, candidates)
            for (task, ref), candidates in zip(refs, tried, strict=True)
        ],
    )
    libraries = []
    for (task, ref), candidates, outputs in zip(refs, tried, reference_runs, strict=True):
        rng = random.Random(f"winnow-sim-variants:{SIMULATOR_VERSION}:{task.task_id}")
        kept, expected = _keep_inputs(candidates, outputs)
        libraries.append(
            Library(
                task=task,
                ease=ease_of(task),
                correct=[Variant(ref.completion, "reference", ())]
                + make_variants(ref, rng, "rewrite", REWRITES),
                wrong=make_variants(ref, rng, "mutant", MUTANTS),
                caught=[],
                params=ref.params,
                inputs=kept,
                expected=expected,
            )
        )
    if progress:
        progress("simulating: variants", 0, len(libraries))
    _check_variants(libraries, executor)
    return libraries, skipped


def _keep_inputs(
    candidates: list[probe_inputs.ProbeInput], outputs: list[probe_inputs.Output]
) -> tuple[list[probe_inputs.ProbeInput], list[str]]:
    """Examples the reference answers, then generated inputs with distinct answers first."""
    examples = [
        (p, o.value)
        for p, o in zip(candidates, outputs, strict=True)
        if o.ok and p.source == "example"
    ][:EXAMPLES_KEPT]
    generated = [
        (p, o.value)
        for p, o in zip(candidates, outputs, strict=True)
        if o.ok and p.source == "generated"
    ]
    seen: set[str] = set()
    distinct = [g for g in generated if not (g[1] in seen or seen.add(g[1]))]  # type: ignore[func-returns-value]
    repeats = [g for g in generated if g not in distinct]
    chosen = examples + (distinct + repeats)[:GENERATED_KEPT]
    return [p for p, _ in chosen], [v for _, v in chosen]


def _check_variants(libraries: list[Library], executor: Executor) -> None:
    """Run every variant on the probe inputs: keep rewrites that agree with the reference,
    drop mutants that time out, and note which mutants the inputs catch and their outputs."""
    problems = [
        (
            lib.task.prompt,
            lib.task.entry_point,
            [v.completion for v in lib.correct[1:] + lib.wrong],
            lib.inputs,
            lib.expected,
        )
        for lib in libraries
    ]
    for lib, comparisons in zip(
        libraries, probe_inputs.compare_variants(executor, problems), strict=True
    ):
        rewrites, mutants = comparisons[: len(lib.correct) - 1], comparisons[len(lib.correct) - 1 :]
        lib.correct = lib.correct[:1] + [
            v for v, c in zip(lib.correct[1:], rewrites, strict=True) if c.agrees
        ]
        wrong, caught, plausible, marks = [], [], [], []
        examples = [i for i, p in enumerate(lib.inputs) if p.source == "example"]
        for variant, comparison in zip(lib.wrong, mutants, strict=True):
            if comparison.status == "timeout":
                continue
            wrong.append(variant)
            caught.append(not comparison.agrees)
            plausible.append(
                comparison.status == "ok" and all(comparison.marks[i] is True for i in examples)
            )
            marks.append(comparison.marks or (None,) * len(lib.inputs))
        lib.wrong, lib.caught, lib.plausible, lib.marks = wrong, caught, plausible, marks


# -- sampling -------------------------------------------------------------------------------------


def distribution(logits: list[float], temperature: float, top_p: float) -> list[float]:
    """Sampling probabilities: softmax at ``temperature`` (0: greedy), then nucleus ``top_p``."""
    if temperature == 0:
        best = max(range(len(logits)), key=lambda i: logits[i])
        return [1.0 if i == best else 0.0 for i in range(len(logits))]
    probs = _softmax([x / temperature for x in logits])
    order = sorted(range(len(probs)), key=lambda i: -probs[i])
    kept, total = set(), 0.0
    for i in order:
        kept.add(i)
        total += probs[i]
        if total >= top_p:
            break
    return [p / total if i in kept else 0.0 for i, p in enumerate(probs)]


def _softmax(logits: list[float]) -> list[float]:
    top = max(logits)
    weights = [math.exp(x - top) for x in logits]
    total = sum(weights)
    return [w / total for w in weights]


def program_logits(lib: Library) -> list[float]:
    """Logits of: the correct variants, the wrong ones, then the broken tail's members."""
    rng = random.Random(f"winnow-sim-logits:{SIMULATOR_VERSION}:{lib.task.task_id}")
    logits = [lib.ease - (0.7 + 0.3 * k if k else 0.0) for k in range(len(lib.correct))]
    for j, plausible in enumerate(lib.plausible):
        logits.append(-0.15 * j + rng.gauss(0.0, 0.5) + (PLAUSIBLE_BONUS if plausible else 0.0))
    return logits + [TAIL_LOGIT] * TAIL_SIZE


def sample_candidates(lib: Library, config: SamplingConfig) -> Generation:
    """``config.n`` simulated completions for one problem, as a server would return them."""
    task = lib.task
    rng = random.Random(f"winnow-sim-sample:{SIMULATOR_VERSION}:{config.seed}:{task.task_id}")
    logits = program_logits(lib)
    model = _softmax(logits)
    probs = distribution(logits, config.temperature, config.top_p)
    programs = lib.correct + lib.wrong
    completions = []
    for _ in range(config.n):
        pick = rng.choices(range(len(probs)), weights=probs)[0]
        surprise = 0.0
        if pick < len(programs):
            text = programs[pick].completion
            if rng.random() < min(0.9, config.temperature):
                text, surprise = _surface(text, rng), -1.5
        else:
            text = _broken(programs, lib, rng)
        raw, tokens, finish = as_served(text + _afterword(lib, rng), config.stop, config.max_tokens)
        mean = TOKEN_LOGPROB + (math.log(model[pick]) + surprise) / max(tokens, 1)
        completions.append(Completion(raw, tokens, mean + rng.gauss(0.0, 0.01), finish))
    prompt = render(config.template, task.prompt, task.entry_point, task.task_id)
    return Generation(task.task_id, prompt, approx_tokens(prompt), completions)


COMMENTS = ("# edge case", "# compute the result", "# loop over the input", "# check", "# done")


def _surface(completion: str, rng: random.Random) -> str:
    """The same program with a comment inserted before one of its statement lines."""
    lines = completion.split("\n")
    starts = [
        i
        for i, line in enumerate(lines)
        if line.strip()
        and not line.lstrip().startswith(("#", ")", "]", "}", "else", "elif", "except", "finally"))
        and _starts_statement(lines, i)
    ]
    if not starts:
        return completion
    at = rng.choice(starts)
    indent = lines[at][: len(lines[at]) - len(lines[at].lstrip())]
    return "\n".join(lines[:at] + [indent + rng.choice(COMMENTS)] + lines[at:])


def _starts_statement(lines: list[str], i: int) -> bool:
    """Whether line ``i`` starts a statement (not inside a bracket or a string)."""
    before = "\n".join(lines[:i])
    depth = sum(before.count(c) for c in "([{") - sum(before.count(c) for c in ")]}")
    return depth == 0 and before.count('"""') % 2 == 0 and before.count("'''") % 2 == 0


def _broken(programs: list[Variant], lib: Library, rng: random.Random) -> str:
    """A member of the broken tail: a truncated program, an empty body, or the input back."""
    kind = rng.randrange(4)
    if kind == 0 and programs:
        text = rng.choice(programs).completion
        return text[: rng.randrange(1, max(len(text), 2))]
    if kind == 1:
        return "    pass\n"
    if kind == 2 and lib.params:
        return f"    return {rng.choice(lib.params)}\n"
    return "    raise NotImplementedError\n"


def _afterword(lib: Library, rng: random.Random) -> str:
    """What a model writes after the function (the stop sequences are there to cut it)."""
    call = f"{lib.task.entry_point}({lib.inputs[0].args if lib.inputs else ''})"
    return rng.choice(
        (
            f'\n\nif __name__ == "__main__":\n    print({call})\n',
            f"\n\n# Test\nprint({call})\n",
            f"\n\ndef main():\n    print({call})\n\n\nmain()\n",
            "\n\n\nclass Solution:\n    pass\n",
        )
    )


def as_served(text: str, stop: tuple[str, ...], max_tokens: int) -> tuple[str, int, str]:
    """What a server returns for ``text``: cut at a stop sequence, or run on to ``max_tokens``
    (repeating the afterword, as a model without a stop rambles on), then cut to it."""
    cuts = [at for at in (text.find(s) for s in stop) if at != -1]
    if cuts:
        text = text[: min(cuts)]
        finish = "stop"
    else:
        while approx_tokens(text) < max_tokens:
            text += text[len(text) // 2 :]
        finish = "length"
    pieces = list(TOKEN.finditer(text))
    if len(pieces) > max_tokens:
        text, finish = text[: pieces[max_tokens].start()], "length"
    return text, min(len(pieces), max_tokens) + (1 if finish == "stop" else 0), finish
