"""What every configuration model is made of; imports nothing internal.

Each TOML file Winnow reads is validated into a subclass of :class:`ConfigModel` by
``harness/config.py`` (``load_model``), which turns the first problem into one error naming the
file and the key. The models carry their own rules: ranges as field constraints, choices as
``Literal`` types, anything else as a validator raising :func:`refuse`. An unknown value is
``None``, never ``-1`` or ``""``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict
from pydantic_core import PydanticCustomError

REFUSED = "winnow_config"  # the pydantic error type of refuse(), which load_model words as given


class ConfigModel(BaseModel):
    """Unknown keys are refused, values are never coerced across types (``"3"`` is not 3, ``true``
    is not 1; an integer is taken where a number is asked), and a model never changes once read."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def refuse(rule: str, key: str | None = None) -> PydanticCustomError:
    """The error a validator raises: the value breaks ``rule`` ("is required for ..."). ``key``
    names a key below the value validated (a model validator names the key it blames)."""
    return PydanticCustomError(REFUSED, "{rule}", {"rule": rule, "key": key})


def _not_blank(text: str) -> str:
    if not text.strip():
        raise refuse("must be a non-empty string")
    return text


NonEmptyStr = Annotated[str, Field(min_length=1), AfterValidator(_not_blank)]  # a name, a path
# A TOML list of strings, kept as a tuple; an item may be blank ("\n\n" is a stop sequence).
Strings = Annotated[tuple[Annotated[str, Field(min_length=1)], ...], Strict(False)]
