"""The names of the full-text search objects revision 0011 creates, per dialect, outside the ORM models.

SQLAlchemy's metadata can describe neither an FTS5 virtual table (with its shadow tables and triggers) nor a stored
generated `tsvector` column cleanly, so the migration creates them with DDL and the models leave them out. The
models-vs-migrations test skips exactly these names (and nothing else); search.py queries them.
"""
from __future__ import annotations

# SQLite: an external-content FTS5 table over incidents(title, description), kept in step by three triggers.
SQLITE_FTS_TABLE = "incidents_fts"
# FTS5 creates these shadow tables beside the virtual table; they belong to it.
SQLITE_FTS_SHADOWS = tuple(f"{SQLITE_FTS_TABLE}_{part}" for part in ("data", "idx", "docsize", "config", "content"))
SQLITE_TRIGGERS = ("incidents_fts_ai", "incidents_fts_ad", "incidents_fts_au")

# PostgreSQL: a stored generated tsvector (title weighted A, description B) with a GIN index on it.
PG_VECTOR_COLUMN = "search_vector"
PG_GIN_INDEX = "ix_incidents_search_vector"
PG_TEXT_CONFIG = "english"

# What the models-vs-migrations comparison must not hold against the models: (object type, name).
SEARCH_OBJECTS: frozenset[tuple[str, str]] = frozenset(
    {("table", SQLITE_FTS_TABLE), *(("table", name) for name in SQLITE_FTS_SHADOWS),
     ("column", PG_VECTOR_COLUMN), ("index", PG_GIN_INDEX)})
