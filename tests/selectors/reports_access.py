"""Counts the paths it could read (its score for every candidate): shows what it can reach.

The test fills in @PATHS@ (paths joined by "|"). Every try is also an attempt on record.
"""

USES: set[str] = set()
SEPARATOR = "|"
PATHS = "@PATHS@".split(SEPARATOR)


def select(problem, candidates, probe):
    readable = 0
    for path in PATHS:
        try:
            with open(path, "rb") as handle:
                handle.read(1)
            readable += 1
        except OSError:
            pass
    return [float(readable)] * len(candidates)
