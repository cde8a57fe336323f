"""Writing many new rows at once, past the ORM: ids reserved first, rows as tuples, COPY.

The legacy import writes ~100,000 comments and ~30,000 people in one run; building a model
instance per row and compiling `bulk_create`'s INSERTs cost more than the database's own work.
Here a row is a plain tuple, written by PostgreSQL's `COPY … FROM STDIN` (psycopg 3's
`cursor.copy`) or, on SQLite, one `executemany` INSERT.

Invariants (what callers may rely on, and what keeps this correct):
- `reserve_ids(model, n)` returns n primary keys that no other writer will ever be given, so
  a caller can compute what depends on ids (a comment's `root_id` and `path`, a reply's parent)
  before anything is written and write each row once, complete:
  * PostgreSQL: n `nextval()` calls on the table's own sequence — concurrent inserts draw
    other numbers from the same sequence;
  * SQLite: `sqlite_sequence` (Django's SQLite tables are AUTOINCREMENT) is moved past
    max(sequence, max(id)) + n in one UPDATE, which takes the database's write lock for the
    rest of the transaction, so nobody inserts in between; normal inserts continue after it.
  The ids are not reused if the transaction rolls back (as with any sequence): gaps are fine.
- `insert(model, fields, rows)` writes each tuple of `rows` (values in the order of `fields`,
  attribute names: `author_id`, not `author`); every other concrete field of the model gets its
  default, computed once per call (a callable default such as `timezone.now` is the same for
  every row of the call). Values must already be what the column stores: no `save()`, no
  `pre_save` (auto_now), no signals, no validation — the caller owns the rows' correctness, and
  the database's constraints still hold (a violation fails the statement, so the transaction).
- Must run inside a transaction (`transaction.atomic`): the ids are only safe there on SQLite,
  and a failed COPY leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import connection, models, transaction
from django.db.models import DateTimeField


def reserve_ids(model: type[models.Model], count: int) -> list[int]:
    if count <= 0:
        return []
    _must_be_in_transaction()
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [table, model._meta.pk.column, count],
            )
            return [row[0] for row in cursor.fetchall()]
        if connection.vendor == "sqlite":
            quoted, pk = connection.ops.quote_name(table), model._meta.pk.column
            cursor.execute(
                "INSERT INTO sqlite_sequence (name, seq) SELECT %s, 0 WHERE NOT EXISTS "
                "(SELECT 1 FROM sqlite_sequence WHERE name = %s)",
                [table, table],
            )
            cursor.execute(
                f"UPDATE sqlite_sequence SET seq = max(seq, (SELECT coalesce(max({pk}), 0) "  # noqa: S608 - names from _meta
                f"FROM {quoted})) + %s WHERE name = %s RETURNING seq",
                [count, table],
            )
            last = cursor.fetchone()[0]
            return list(range(last - count + 1, last + 1))
    raise NotImplementedError(f"reserve_ids: no support for {connection.vendor}")


def insert(model: type[models.Model], fields: Sequence[str], rows: Iterable[tuple]) -> None:
    _must_be_in_transaction()
    rows = list(rows)
    if not rows:
        return
    by_name = {field.attname: field for field in model._meta.concrete_fields}
    unknown = set(fields) - by_name.keys()
    if unknown:
        raise ValueError(f"{model.__name__} has no fields {sorted(unknown)}")
    rest = [field for name, field in by_name.items() if name not in fields]
    tail = tuple(field.get_db_prep_save(field.get_default(), connection) for field in rest)
    columns = [by_name[name] for name in fields] + rest
    names = ", ".join(connection.ops.quote_name(field.column) for field in columns)
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # psycopg adapts str/int/bool/None/aware datetimes itself, in C. Its errors become
            # Django's (IntegrityError, ...), as for any query.
            with connection.wrap_database_errors:
                with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row + tail)
            return
        # SQLite stores datetimes as text in UTC: Django's own conversion, per such column.
        dates = [i for i, name in enumerate(fields) if isinstance(by_name[name], DateTimeField)]
        adapt = connection.ops.adapt_datetimefield_value

        def prepared(row: tuple) -> tuple:
            if dates:
                row = list(row)
                for i in dates:
                    row[i] = adapt(row[i])
                row = tuple(row)
            return row + tail

        marks = ", ".join(["%s"] * len(columns))
        cursor.executemany(
            f"INSERT INTO {table} ({names}) VALUES ({marks})",  # noqa: S608 - names from _meta
            [prepared(row) for row in rows],
        )


def _must_be_in_transaction() -> None:
    if not transaction.get_connection().in_atomic_block:
        raise transaction.TransactionManagementError("bulkwrite needs transaction.atomic()")
