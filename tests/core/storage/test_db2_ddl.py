"""The DB2 DDL (``spine db sql --dialect db2``, offline) is valid for DB2.

No DB2 server is available, so the printed DDL is parsed: every column of a primary key,
a unique constraint or an index is resolved to its declared type, which must not be a
LOB (DB2 refuses CLOB, BLOB and DBCLOB in keys and indexes), and every length- or
precision-bearing type states it (DB2 has no ``VARCHAR`` without a length).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest

from spine.core.storage.migrator import offline_sql

pytest.importorskip("ibm_db_sa")

_CREATE_TABLE = re.compile(r"CREATE TABLE (?P<name>[\w.\"]+) \((?P<body>.*?)\n\);", re.S)
_CREATE_INDEX = re.compile(
    r"CREATE (?:UNIQUE )?INDEX [\w.\"]+ ON (?P<table>[\w.\"]+) \((?P<columns>[^)]*)\)"
)
_ADD_COLUMN = re.compile(r"ALTER TABLE (?P<table>[\w.\"]+) ADD (?:COLUMN )?(?P<column>.+?);")
_KEY = re.compile(r"(?:PRIMARY KEY|UNIQUE) \((?P<columns>[^)]*)\)")
_LOB = re.compile(r"^(?:CLOB|BLOB|DBCLOB|LONG VARCHAR|XML)\b")
_NEEDS_LENGTH = re.compile(
    r"^(?:VARCHAR|CHAR|CHARACTER|VARGRAPHIC|GRAPHIC|VARBINARY|BINARY|DECIMAL|NUMERIC|DEC)\b(?!\s*\()"
)


def _name(raw: str) -> str:
    return raw.strip().strip('"').lower()


@dataclass
class Schema:
    """Column types by table, and the columns each key or index covers."""

    types: dict[str, dict[str, str]] = field(default_factory=dict)
    keyed: list[tuple[str, str, str]] = field(default_factory=list)  # (table, column, what)

    def column_type(self, table: str, column: str) -> str:
        return self.types[table][column]


def parse(ddl: str) -> Schema:
    schema = Schema()
    for match in _CREATE_TABLE.finditer(ddl):
        table = _name(match["name"].split(".")[-1])
        columns = schema.types.setdefault(table, {})
        for line in re.split(r",[ \t]*\n", match["body"]):
            line = line.strip().rstrip(",")
            if line.startswith("CONSTRAINT") or line.startswith(("PRIMARY KEY", "UNIQUE")):
                key = _KEY.search(line)
                if key:
                    for column in key["columns"].split(","):
                        schema.keyed.append((table, _name(column), line.split(" (")[0]))
                continue
            name, _, rest = line.partition(" ")
            columns[_name(name)] = rest.strip()
    for match in _ADD_COLUMN.finditer(ddl):
        table = _name(match["table"].split(".")[-1])
        name, _, rest = match["column"].strip().partition(" ")
        schema.types.setdefault(table, {})[_name(name)] = rest.strip()
    for match in _CREATE_INDEX.finditer(ddl):
        table = _name(match["table"].split(".")[-1])
        for column in match["columns"].split(","):
            schema.keyed.append((table, _name(column.split()[0]), match[0]))
    return schema


@pytest.fixture(scope="module")
def db2() -> Schema:
    schema = parse(offline_sql("db2"))
    assert len(schema.types) > 40 and len(schema.keyed) > 100, "the DDL was not parsed"
    return schema


def test_no_lob_column_in_a_key_or_an_index(db2: Schema) -> None:
    lobs = sorted(
        f"{table}.{column} {db2.column_type(table, column).split()[0]} in {what}"
        for table, column, what in db2.keyed
        if _LOB.match(db2.column_type(table, column))
    )
    assert lobs == []


def test_every_length_and_precision_is_stated(db2: Schema) -> None:
    missing = sorted(
        f"{table}.{column} {declared}"
        for table, columns in db2.types.items()
        for column, declared in columns.items()
        if _NEEDS_LENGTH.match(declared)
    )
    assert missing == []


def test_the_checks_catch_what_they_look_for() -> None:
    ddl = """CREATE TABLE t (
    a CLOB NOT NULL,
    b VARCHAR,
    c DECIMAL NOT NULL,
    d VARCHAR(20),
    CONSTRAINT uq_t_a UNIQUE (a, d)
);

CREATE INDEX ix_t_b ON t (b, a);
"""
    schema = parse(ddl)
    keyed_lobs = [(t, c) for t, c, _ in schema.keyed if _LOB.match(schema.column_type(t, c))]
    assert keyed_lobs == [("t", "a"), ("t", "a")]
    unsized = [c for c, d in schema.types["t"].items() if _NEEDS_LENGTH.match(d)]
    assert unsized == ["b", "c"]
