"""Does ordinary things a selector may do: standard modules, numpy, its own scratch files.

None of it may be recorded as an attempt to leave the sandbox.
"""

import collections
import json
import math
import re
import statistics
import tempfile

import numpy as np

USES: set[str] = set()


def select(problem, candidates, probe):
    lengths = np.array([len(c.completion) for c in candidates], dtype=float)
    with tempfile.NamedTemporaryFile("w+", suffix=".json") as scratch:
        json.dump(lengths.tolist(), scratch)
        scratch.seek(0)
        lengths = np.array(json.load(scratch))
    words = collections.Counter(re.findall(r"\w+", problem.prompt))
    spread = statistics.pstdev(lengths.tolist()) if len(lengths) > 1 else 0.0
    return [-abs(x - lengths.mean()) - math.log1p(spread) + 0 * len(words) for x in lengths]
