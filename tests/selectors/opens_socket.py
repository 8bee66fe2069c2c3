"""Tries to reach a listener on 127.0.0.1 (a model, an answer key). The test fills in @PORT@."""

import socket

USES: set[str] = set()
PORT = int("@PORT@")


def select(problem, candidates, probe):
    try:
        with socket.create_connection(("127.0.0.1", PORT), timeout=1) as conn:
            conn.sendall(problem.task_id.encode())
    except OSError:
        pass
    return [0.0] * len(candidates)
