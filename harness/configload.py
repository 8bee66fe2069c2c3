"""The one way Winnow reads a TOML file: parse it, validate it into a :class:`ConfigModel`, and
turn the first problem into one :class:`InputError` naming the file and the key as written
there (``run.toml: key 'eval.k' must be an integer of at least 1``). The wording of a rule is
worked out from the field's type and constraints, so no rule is written twice.
"""

from __future__ import annotations

import tomllib
import types
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from harness.configmodel import REFUSED
from harness.errors import InputError

Model = TypeVar("Model", bound=BaseModel)


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file's tables; a missing or malformed file is an InputError naming it."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise InputError("no such file", path) from None
    return parse_toml(text, path)


def parse_toml(text: str, where: Path | str) -> dict[str, Any]:
    """The tables of TOML text read from ``where`` (named in the error when it is malformed)."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML ({exc})", where) from None


def load_model(data: Any, model: type[Model], path: Path | str | None, prefix: str = "") -> Model:
    """Validate ``data`` (a TOML table read from ``path``) into ``model``.

    ``prefix`` is where the table sits in its file (``"proposer."``): the one-line InputError
    for the first problem names the file and the key as written there. Validators see ``path``
    in their context (``info.context["path"]``), to resolve file names relative to it.
    """
    try:
        return model.model_validate(data, context={"path": path})
    except ValidationError as exc:
        raise InputError(_describe(exc.errors()[0], model, prefix), path) from None


def _describe(error: ErrorDetails, model: type[BaseModel], prefix: str) -> str:
    """``[<entry>: ]key '<dotted.key>' <rule>`` for one pydantic error."""
    where, keys, annotation, metadata = _walk(model, error["loc"])
    kind, context = error["type"], error.get("ctx", {})
    if kind == REFUSED:
        rule = context["rule"]
        keys += [context["key"]] if context.get("key") else []
    elif kind == "extra_forbidden":
        rule = "is not a known setting"
    elif kind == "missing":
        rule = "is required"
    else:
        rule = _expectation(annotation, metadata)
    if where:
        where = prefix + where
    key = ".".join(keys) if where else (prefix + ".".join(keys)).rstrip(".")
    sep = "" if rule.startswith(":") else " "  # a rule may go on after a colon: "key 'x': ..."
    text = f"key '{key}'{sep}{rule}" if key else rule
    return f"{where}: {text}" if where else text


def _walk(
    model: type[BaseModel], loc: tuple[int | str, ...]
) -> tuple[str, list[str], Any, list[Any]]:
    """Follow an error's location through the models: the list entry it is in (``param #2``),
    the key's path below it, and the type and constraints of the value the error is about."""
    where, keys = "", []
    annotation: Any = model
    metadata: list[Any] = []
    for part in loc:
        inner, _ = _unwrap(annotation, [])
        if isinstance(part, str) and _is_model(inner):
            keys.append(part)
            if part not in inner.model_fields:  # an unknown key
                return where, keys, None, []
            info: FieldInfo = inner.model_fields[part]
            annotation, metadata = info.annotation, list(info.metadata)
        elif isinstance(part, int) and get_origin(inner) is list and _is_model(get_args(inner)[0]):
            where = f"{where + ': ' if where else ''}{'.'.join(keys)} #{part + 1}"
            keys, annotation, metadata = [], get_args(inner)[0], []
        else:
            break  # inside a value: a list item, a table's key, a member of a union
    return where, keys, annotation, metadata


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _unwrap(annotation: Any, metadata: list[Any]) -> tuple[Any, list[Any]]:
    """The type without ``None`` and ``Annotated``, with every constraint met on the way."""
    while True:
        if get_origin(annotation) is Annotated:
            annotation, *extra = get_args(annotation)
            metadata = metadata + extra
        elif get_origin(annotation) in (Union, types.UnionType):
            members = [a for a in get_args(annotation) if a is not type(None)]
            if len(members) > 1:  # a choice of types: left to the caller
                break
            annotation = members[0]
        else:
            break
    flat: list[Any] = []
    for m in metadata:
        flat.extend(m.metadata if isinstance(m, FieldInfo) else [m])
    return annotation, flat


def _expectation(annotation: Any, metadata: list[Any]) -> str:
    """What a value of this type and these constraints must be, in words."""
    annotation, metadata = _unwrap(annotation, metadata)
    limits = {
        name: getattr(m, name)
        for m in metadata
        for name in ("ge", "gt", "le", "min_length", "pattern")
        if getattr(m, name, None) is not None
    }
    origin = get_origin(annotation)
    if origin is Literal:
        return "must be one of " + ", ".join(repr(v) for v in get_args(annotation))
    if annotation is bool:
        return "must be true or false"
    numbers = {annotation}
    if origin in (Union, types.UnionType):
        numbers = set(get_args(annotation)) - {type(None)}
    if numbers <= {int, float}:
        noun = "an integer" if numbers == {int} else "a number"
        return f"must be {_span(noun, limits)}"
    if annotation is str:
        if "pattern" in limits:
            return f"must match {limits['pattern']}"
        return "must be a non-empty string" if limits.get("min_length") else "must be a string"
    if origin in (list, tuple):
        item, item_limits = _unwrap(get_args(annotation)[0], [])
        listed = "a non-empty list" if limits.get("min_length") else "a list"
        kinds = set(get_args(item)) if get_origin(item) in (Union, types.UnionType) else {item}
        if kinds == {str} and any(getattr(m, "min_length", None) for m in item_limits):
            return f"must be {listed} of non-empty strings"
        if kinds <= set(PLURALS):
            *others, last = sorted({PLURALS[k] for k in kinds})
            return f"must be {listed} of {', '.join(others)}{' or ' if others else ''}{last}"
        return f"must be {listed}"
    if annotation is dict or origin is dict or _is_model(annotation):
        return "must be a table"
    return "is not valid"


PLURALS = {bool: "booleans", int: "numbers", float: "numbers", str: "strings"}


def _span(noun: str, limits: dict[str, Any]) -> str:
    low, above, high = limits.get("ge"), limits.get("gt"), limits.get("le")
    if above is not None and high is not None:
        return f"{noun} above {above:g} and at most {high:g}"
    if above == 0:
        return f"a positive {noun.split()[-1]}"
    if above is not None:
        return f"{noun} above {above:g}"
    if low is not None and high is not None:
        return f"{noun} between {low:g} and {high:g}"
    if low is not None:
        return f"{noun} of at least {low:g}"
    return noun
