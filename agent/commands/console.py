"""The one way a command gets a rich console.

On a terminal: rich's own (its width, colour, live progress). Anywhere else — a file, a pipe,
a CI log — a line is never broken: text is printed as it is (``soft_wrap``) and tables are laid
out on a wide page (``COLUMNS`` when set), so ``grep`` finds a line whole.
"""

from __future__ import annotations

import os

from rich.console import Console

PAGE_WIDTH = 240  # columns a table may take when the output is not a terminal


def make_console(stderr: bool = False) -> Console:
    shown = Console(stderr=stderr)
    if shown.is_terminal:
        return shown
    columns = os.environ.get("COLUMNS", "")
    width = int(columns) if columns.isdigit() and int(columns) > 0 else PAGE_WIDTH
    return Console(stderr=stderr, soft_wrap=True, width=width)
