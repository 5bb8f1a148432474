"""Claiming a row for one worker: a lease that expires on its own, and an attempt counter that fences late writers.

Used by provisioning (incidents) and the outbox (items): the same conditional UPDATE decides who works on a row,
so two workers, two replicas or a restart after a crash never act on it at once.
"""
from __future__ import annotations

from sqlalchemy import Column, ColumnElement, Table, Update, bindparam, or_, update


def claim_statement(table: Table, *, lease_until: Column[object], attempts: Column[int], owner: Column[object],
                    unfinished: ColumnElement[bool]) -> Update:
    """The claim, built once: take row `_id` when it is unfinished and nobody holds a live lease (`_now`), lease it
    until `_lease_until` to `_owner` (this process's replica id) and bump `attempts`, the fencing token. One row
    updated means the row is ours."""
    return (update(table)
            .where(table.c.id == bindparam("_id"), unfinished)
            .where(or_(lease_until.is_(None), lease_until < bindparam("_now")))
            .values({lease_until.key: bindparam("_lease_until"), attempts.key: attempts + 1, owner.key: bindparam("_owner")}))


def release_statement(table: Table, *, lease_until: Column[object], owner: Column[object], unfinished: ColumnElement[bool]) -> Update:
    """At start: the leases this replica (`_owner`) held when it died are over now, so its own unfinished work is
    taken up at once instead of when the leases run out. The fencing token still stops a stale writer."""
    return update(table).where(unfinished, owner == bindparam("_owner"), lease_until.is_not(None)).values({lease_until.key: None})
