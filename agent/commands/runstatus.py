"""What ``winnow run`` shows while it works.

On a terminal: one status line, redrawn in place by rich — the experiment under way, its stage
(proposing, sampling, labelling, self-tests, evaluating, checks, deciding), the time since the
run started and the best dev sel@k so far — under the lines the loop prints. Anywhere else (a
file, a pipe): no status line, and each stage an experiment enters is one plain line,
``#<n> <stage>``, never wrapped, so a log stays greppable.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.live import Live
from rich.text import Text

# The harness's progress stages (harness/judge/problems.py, evaluate.py, session.py), by the
# name the run shows. A stage not listed is shown by its own name.
STAGES = {
    "hidden tests": "labelling",
    "self-tests": "self-tests",
    "outputs": "self-tests",
    "selector": "evaluating",
    "reward scores": "evaluating",
}


class RunStatus:
    """The loop's display: ``say`` a line, ``experiment``/``stage``/``best`` for the status."""

    def __init__(self, console: Console):
        self.console = console
        self.started = time.monotonic()
        self.number: int | None = None
        self.stage_name = "starting"
        self.counts = ""
        self.best_value: float | None = None

    def say(self, line: str) -> None:
        self.console.print(line, markup=False, highlight=False)

    def experiment(self, number: int, stage: str) -> None:
        self.number = number
        self.stage(stage)

    def stage(self, name: str) -> None:
        changed = name != self.stage_name
        self.stage_name, self.counts = name, ""
        if changed and not self.console.is_terminal and self.number is not None:
            self.say(f"#{self.number} {name}")

    def best(self, value: float | None) -> None:
        if value is not None:
            self.best_value = value if self.best_value is None else max(self.best_value, value)

    def progress(self, stage: str, done: int, total: int) -> None:
        """The harness's progress callback (``harness.judge.problems.Progress``)."""
        shown = STAGES.get(stage, stage)
        if stage == "selector" and done == total:
            shown = "checks"  # the selector has run every problem: the checks' reruns follow
        if shown != self.stage_name:
            self.stage(shown)
        self.counts = f" {done}/{total}"

    def __rich__(self) -> Text:
        elapsed = int(time.monotonic() - self.started)
        clock = f"{elapsed // 3600}:{elapsed // 60 % 60:02d}:{elapsed % 60:02d}"
        best = "—" if self.best_value is None else f"{self.best_value:.4f}"
        number = "—" if self.number is None else str(self.number)
        return Text(
            f"experiment {number} · {self.stage_name}{self.counts} · {clock} · best {best}",
            style="bold",
        )


@contextmanager
def run_status(console: Console) -> Iterator[RunStatus]:
    """A RunStatus, its line drawn live while the block runs when ``console`` is a terminal."""
    status = RunStatus(console)
    if not console.is_terminal:
        yield status
        return
    with Live(status, console=console, refresh_per_second=4, transient=True):
        yield status
