"""``python -m agent`` is the ``winnow`` command."""

from agent.cli import main

main()
