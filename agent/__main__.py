"""``python -m agent`` is the ``winnow`` command."""


def main() -> None:
    try:
        # Imported here: Ctrl-C while the command is still importing ends it in one line too.
        from agent.cli import main as winnow
    except KeyboardInterrupt:
        print("winnow: interrupted")
        raise SystemExit(130) from None
    winnow()


if __name__ == "__main__":
    main()
