"""The ledger's one error type: bad input or an unusable database, said in one line."""

from __future__ import annotations

from pydantic import ValidationError


class LedgerError(Exception):
    """A ledger that cannot be used as asked: missing, locked, too new, or a bad record.

    The message is one line naming the file, the run tag or the key; the command line prints it
    as ``winnow: error: ...`` and exits with status 2. Nothing is written when it is raised.
    """


def invalid_record(what: str, error: ValidationError) -> LedgerError:
    """A record that failed validation, as one line naming its first bad key (dotted, with list
    positions: ``arms.codet.ci_low``, ``picks[3].arm``) and what was wrong with it."""
    errors = error.errors(include_url=False)
    first = errors[0]
    loc, value = first["loc"], first["input"]
    expected = [_expected(first["msg"])]
    # A value that fits no member of a union is reported once per member, with the member's
    # name appended to the key: name the key once and every member it could have been.
    for other in errors[1:]:
        if (
            first["type"].endswith("_type")
            and other["loc"][:-1] == loc[:-1]
            and len(other["loc"]) == len(loc)
            and other["input"] == value
        ):
            expected.append(_expected(other["msg"]))
    if len(expected) > 1:
        loc = loc[:-1]
    where = f"{what}: key '{_dotted(loc)}'"
    if first["type"] == "missing":
        return LedgerError(f"{where} is missing")
    if first["type"] == "extra_forbidden":
        return LedgerError(f"{where} is not expected")
    if value is None:
        return LedgerError(f"{where} must not be null")
    return LedgerError(f"{where} must be {' or '.join(expected)}, not {value!r:.40}")


def _dotted(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def _expected(message: str) -> str:
    prefix = "Input should be "
    return message.removeprefix(prefix) if message.startswith(prefix) else f"valid ({message})"
