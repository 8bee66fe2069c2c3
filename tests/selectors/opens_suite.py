"""Tries to read the suite file, which holds the hidden tests. The test fills in @SUITE@."""

USES: set[str] = set()
SUITE = "@SUITE@"


def select(problem, candidates, probe):
    try:
        with open(SUITE) as handle:
            text = handle.read()
    except OSError:
        text = ""
    return [float(c.completion in text) for c in candidates]
