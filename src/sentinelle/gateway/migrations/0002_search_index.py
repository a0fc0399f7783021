"""The full-text index, by database: a tsvector column with a GIN index on PostgreSQL, an FTS5
table on SQLite (unicode61 tokenizer, diacritics folded). Other databases get no index and the
search finds nothing rather than failing."""

from django.db import migrations

POSTGRES = [
    "ALTER TABLE gateway_searchentry ADD COLUMN vector tsvector",
    "CREATE INDEX gateway_searchentry_vector ON gateway_searchentry USING gin (vector)",
]
POSTGRES_UNDO = ["DROP INDEX IF EXISTS gateway_searchentry_vector",
                 "ALTER TABLE gateway_searchentry DROP COLUMN IF EXISTS vector"]
SQLITE = ["CREATE VIRTUAL TABLE gateway_fts USING fts5("
          "title, body, tokenize = 'unicode61 remove_diacritics 2')"]
SQLITE_UNDO = ["DROP TABLE IF EXISTS gateway_fts"]


def _run(statements: dict):
    def run(apps, schema_editor):
        for sql in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)
    return run


class Migration(migrations.Migration):
    dependencies = [("gateway", "0001_initial")]

    operations = [
        migrations.RunPython(_run({"postgresql": POSTGRES, "sqlite": SQLITE}),
                             _run({"postgresql": POSTGRES_UNDO, "sqlite": SQLITE_UNDO})),
    ]
