"""Backups that restore: a consistent database dump, the files, the keys and a manifest.

A backup is a directory:

    manifest.json       format, time, Sentinelle version, database engine, latest migration per
                        app, which secrets are inside, and every file's size and SHA-256
    database.sqlite3    SQLite: a copy made with SQLite's online backup API
    database.pgdump     PostgreSQL: `pg_dump --format=custom`
    keys/               the key files of the data directory (secret_key, audit_key, instance_key)
    media/              MEDIA_ROOT: evidence, job and report files

The database is dumped first and the files copied after it. Files are never removed by the
platform (deletes are soft), so every file the dump refers to is on disk when it is copied; a file
added in between is copied too and merely has no row.

Restore checks every file against the manifest before it writes anything, stages every file
beside its destination, restores the database (the commit point: an atomic rename on SQLite, one
transaction on PostgreSQL), then renames the staged files into place, and finally checks the
restored instance: the audit chain and every stored file's recorded SHA-256.
"""

from sentinelle.core.backup.common import BackupError, ProgressReporter, Reporter, RestoreResult
from sentinelle.core.backup.create import create_backup
from sentinelle.core.backup.databases import database_is_empty
from sentinelle.core.backup.manifest import manifest_digest, read_manifest
from sentinelle.core.backup.restore import check_instance, restore_backup, verify_backup

__all__ = ["BackupError", "ProgressReporter", "Reporter", "RestoreResult", "check_instance",
           "create_backup", "database_is_empty", "manifest_digest", "read_manifest",
           "restore_backup", "verify_backup"]
