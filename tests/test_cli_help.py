"""The command's face: --version, and help screens that read right in a terminal, a file or a
pager (Click's plain help: no markup eaten, no metavar after a flag, first sentences whole)."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

import pytest
from typer.testing import CliRunner

from agent.cli import app

runner = CliRunner()
COMMANDS = ["eval", "check", "run", "log", "report", "sample", "sweep"]


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"winnow {metadata.version('winnow')}\n"


def test_the_command_list_shows_each_first_sentence_whole() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    listed = result.stdout.split("Commands:")[1].splitlines()
    rows = {line.split()[0]: line for line in listed if line.strip()}
    assert sorted(rows) == sorted(COMMANDS)
    assert not any(row.rstrip().endswith("...") for row in rows.values()), rows


@pytest.mark.parametrize("command", COMMANDS)
def test_help_screens_are_plain(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    text = result.stdout
    assert "<bool>" not in text  # a flag takes no value
    assert not set("╭╰│─") & set(text)  # no box drawing in a file
    if command == "eval":
        assert "[scorer]" in text  # square brackets are text, not markup


def test_help_written_to_a_pipe_is_plain_too() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "agent", "eval", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0 and "--json " in done.stdout and "<bool>" not in done.stdout


def test_a_line_printed_to_a_pipe_is_never_broken() -> None:
    code = (
        "from agent.commands.console import make_console\n"
        "make_console(stderr=True).print('word ' * 60 + 'end', markup=False)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stderr.splitlines() == [("word " * 60 + "end")]
