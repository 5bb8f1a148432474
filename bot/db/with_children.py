"""Insert a new row and the rows that point at it as one statement: one round trip on PostgreSQL.

A declare writes the incident, its IC, its first timeline lines and its first timers before it acks. On PostgreSQL
each statement is a round trip, and under load every round trip is a wait for the GIL and a CPU again; so they go
out as a single INSERT … RETURNING with a data-modifying CTE per child table (PostgreSQL checks the foreign keys at
the end of the statement, when the parent exists). A single statement needs no BEGIN or COMMIT either: it runs on
an autocommit connection and is atomic on its own. SQLite has no INSERT in a CTE, and its statements are calls, not
round trips: there it is the parent's INSERT … RETURNING and one executemany per child table, in one transaction.
"""
from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Executable, Table, bindparam, insert, select, union_all

from bot.db.engine import Database

# (table, rows): every row of one table has the same keys; the foreign key column is filled in here.
Children = Sequence[tuple[Table, Sequence[Mapping[str, Any]]]]

_Shape = tuple[str, tuple[str, ...], tuple[tuple[str, tuple[str, ...], int], ...]]
_built: dict[_Shape, Executable] = {}
_lock = threading.Lock()


def insert_with_children(db: Database, parent: Table, row: Mapping[str, Any], children: Children, *,
                         foreign_key: str) -> int:
    """Insert `row` into `parent` and each child row with `foreign_key` set to the new id, all or nothing, in a
    transaction of its own; returns the new id."""
    row = _with_defaults(parent, row)
    children = [(table, [_with_defaults(table, child) for child in rows]) for table, rows in children if rows]
    if not db.is_postgres:
        with db.transaction() as connection:
            new_id: int = connection.execute(insert(parent).returning(parent.c.id), row).scalar_one()
            for table, rows in children:
                connection.execute(insert(table), [{**child, foreign_key: new_id} for child in rows])
            return new_id
    shape: _Shape = (parent.name, tuple(row), tuple((table.name, tuple(rows[0]), len(rows)) for table, rows in children))
    statement = _built.get(shape)
    if statement is None:
        with _lock:
            # Built once per shape and reused: SQLAlchemy then skips compiling it again on every call.
            statement = _built.setdefault(shape, _build(parent, tuple(row), children, foreign_key))
    values = {f"p_{key}": value for key, value in row.items()}
    for t, (_table, rows) in enumerate(children):
        for r, child in enumerate(rows):
            values.update({f"c{t}_{r}_{key}": value for key, value in child.items()})
    with db.autocommit() as connection:
        found: int = connection.execute(statement, values).scalar_one()
        return found


def _with_defaults(table: Table, row: Mapping[str, Any]) -> dict[str, Any]:
    """The row with the columns' Python-side scalar defaults filled in: the prebuilt statement names every value."""
    filled = dict(row)
    for column in table.columns:
        default = column.default
        if column.key not in filled and default is not None and default.is_scalar:
            filled[column.key] = default.arg  # type: ignore[attr-defined]
    return filled


def _build(parent: Table, keys: tuple[str, ...], children: Children, foreign_key: str) -> Executable:
    new = (insert(parent).values({key: bindparam(f"p_{key}", type_=parent.c[key].type) for key in keys})
           .returning(parent.c.id).cte("new_parent"))
    inserts = []
    for t, (table, rows) in enumerate(children):
        columns = tuple(rows[0])
        selects = [select(new.c.id, *(bindparam(f"c{t}_{r}_{key}", type_=table.c[key].type) for key in columns))
                   for r in range(len(rows))]
        source = selects[0] if len(selects) == 1 else union_all(*selects)
        inserts.append(insert(table).from_select([foreign_key, *columns], source).cte(f"child_{t}"))
    return select(new.c.id).add_cte(*inserts)
