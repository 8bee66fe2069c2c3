"""How a typed result of ``harness/results.py`` becomes the columns of a ledger table, and back.

A table that mirrors a result is described by the result itself. Its columns are the result's
fields, flattened: a field holding a number, a text, a flag or a status is one column; a field
holding a nested record (an arm's ``compute``, an evaluation's ``harness``) gives one column per
field of that record, under a prefix the table chooses. A row is the result's ``model_dump()``
flattened the same way, and reading a row back gives the result again.

So adding a field to a result changes the columns the ledger expects, and
``tests/test_ledger_migrations.py`` fails until a migration adds them. A field the table does not
keep as columns (a list, a JSON column, a child table) must be named as kept ``elsewhere``: a new
field of an unforeseen kind is refused here rather than silently dropped.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel
from sqlalchemy import Boolean, Column, Float, Integer, String
from sqlalchemy.types import TypeEngine

R = TypeVar("R", bound=BaseModel)

_SQL_TYPES: dict[type, type[TypeEngine[Any]]] = {
    bool: Boolean,
    int: Integer,
    float: Float,
    str: String,  # a StrEnum is stored as its value
}


@dataclass(frozen=True)
class ResultColumns(Generic[R]):
    """The columns of one result model, and the conversions between its values and rows."""

    model: type[R]
    nested: Mapping[str, str] = field(default_factory=dict)
    """Nested record field -> the prefix of its columns ("" keeps the field names as they are)."""
    renamed: Mapping[str, str] = field(default_factory=dict)
    """Field -> its column, where the released schema named it differently."""
    elsewhere: frozenset[str] = frozenset()
    """Fields the table does not keep as columns (another table, a JSON column)."""

    def __post_init__(self) -> None:
        self.columns()  # a field of an unforeseen kind is refused at once, not at first write

    def names(self) -> list[str]:
        """The column names, in field order."""
        return [column.name for column in self.columns()]

    def columns(self) -> list[Column[Any]]:
        """The columns, typed from the fields. A column is NOT NULL when its field (and every
        record it is nested in) is required and not optional; otherwise it may be NULL."""
        columns: list[Column[Any]] = []
        for name, info in self.model.model_fields.items():
            if name in self.elsewhere:
                continue
            kind, optional = _unwrap(info.annotation)
            required = info.is_required() and not optional
            if name in self.nested:
                if not (isinstance(kind, type) and issubclass(kind, BaseModel)):
                    raise TypeError(f"{self.model.__name__}.{name} is not a nested record")
                for sub, sub_info in kind.model_fields.items():
                    sub_kind, sub_optional = _unwrap(sub_info.annotation)
                    not_null = required and sub_info.is_required() and not sub_optional
                    column = self.nested[name] + sub
                    sql_type = _sql_type(sub_kind, f"{name}.{sub}", self)
                    columns.append(Column(column, sql_type, nullable=not not_null))
            else:
                column = self.renamed.get(name, name)
                columns.append(Column(column, _sql_type(kind, name, self), nullable=not required))
        return columns

    def row(self, value: R) -> dict[str, Any]:
        """The columns' values of one result (``model_dump()``, flattened)."""
        data = value.model_dump(exclude=set(self.elsewhere))
        row: dict[str, Any] = {}
        for name, item in data.items():
            if name in self.nested:
                for sub, sub_item in item.items():
                    row[self.nested[name] + sub] = sub_item
            else:
                row[self.renamed.get(name, name)] = item
        return row

    def read(self, row: Mapping[Any, Any], **elsewhere: Any) -> R:
        """The result a row holds, with the fields kept ``elsewhere`` given by the caller.

        The row was validated when it was written and is not judged again: a NULL the ledger
        accepted then (a metric an older harness did not report) reads back as None.
        """
        values: dict[str, Any] = dict(elsewhere)
        for name, info in self.model.model_fields.items():
            if name in self.elsewhere:
                continue
            if name in self.nested:
                kind, _ = _unwrap(info.annotation)
                assert isinstance(kind, type) and issubclass(kind, BaseModel)
                prefix = self.nested[name]
                values[name] = kind.model_construct(
                    **{sub: row[prefix + sub] for sub in kind.model_fields}
                )
            else:
                values[name] = row[self.renamed.get(name, name)]
        return self.model.model_construct(**values)


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """(the type, whether None is allowed) of ``X`` or ``X | None``."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        optional = len(args) < len(get_args(annotation))
        return (args[0] if len(args) == 1 else annotation), optional
    return annotation, False


def _sql_type(kind: Any, name: str, table: ResultColumns[Any]) -> TypeEngine[Any]:
    for python, sql in _SQL_TYPES.items():
        if isinstance(kind, type) and issubclass(kind, python):
            return sql()
    raise TypeError(
        f"{table.model.__name__}.{name} ({kind}) is not a number, text, flag or status: keep it "
        "as nested columns, or name it as kept elsewhere"
    )
