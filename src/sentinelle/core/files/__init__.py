"""Stored files that follow the database (issue 20, point 1).

`transactional`: the storages (local disk, S3) under which a file written inside a transaction
exists under its name only once the transaction commits. `check`: what `sentinelle files check`
compares (rows, files, pending files, SHA-256) and what `--repair` may safely do.
"""
