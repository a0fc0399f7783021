"""Where uploaded and produced files live: the local disk, or an S3-compatible bucket.

Every file the platform keeps (evidence, staged uploads, job inputs and outputs, Council
reports, action-plan evidence) goes through Django's storage API, so the choice is made here
once, from the environment (`storages_from_env`, read by settings.py), and downloads are served
by `download_stream`, which reads an object in chunks whatever the storage.

No Django import at module level: settings.py imports this module.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from sentinelle.env import SettingError, env_int, env_secret, env_str

if TYPE_CHECKING:
    from django.http import FileResponse

log = logging.getLogger(__name__)

FILESYSTEM = "filesystem"
S3 = "s3"
ADDRESSING_STYLES = ("auto", "path", "virtual")
# Reads through the storage API (hashing, imports) spool to a temporary file past this many
# bytes. django-storages' own default, 0, keeps a whole object in memory while it is read.
DEFAULT_S3_MAX_MEMORY = 2 * 1024 * 1024
# Downloads are sent in chunks of this size, read one at a time from the storage.
DOWNLOAD_CHUNK = 64 * 1024
# Django's own backends, under which a file written inside a transaction is kept only if it
# commits (core/files/transactional.py).
FILESYSTEM_BACKEND = "sentinelle.core.files.transactional.TransactionalFileSystemStorage"
S3_BACKEND = "sentinelle.core.files.transactional.TransactionalS3Storage"


def storages_from_env(environ: Mapping[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """Django's STORAGES from SENTINELLE_STORAGE and, for `s3`, the SENTINELLE_S3_* settings.

    The local filesystem (MEDIA_ROOT) is the default; `s3` needs a bucket and django-storages
    (the `s3` extra). A bad or missing value raises SettingError naming the variable.
    """
    environ = os.environ if environ is None else environ
    kind = env_str("SENTINELLE_STORAGE", FILESYSTEM, environ).strip().lower() or FILESYSTEM
    static = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    if kind == FILESYSTEM:
        return {"default": {"BACKEND": FILESYSTEM_BACKEND},
                "staticfiles": static}
    if kind != S3:
        raise SettingError(f"SENTINELLE_STORAGE={environ['SENTINELLE_STORAGE']!r} is not "
                           f"{FILESYSTEM!r} or {S3!r}")
    bucket = env_str("SENTINELLE_S3_BUCKET", "", environ).strip()
    if not bucket:
        raise SettingError("SENTINELLE_STORAGE=s3 needs SENTINELLE_S3_BUCKET")
    style = env_str("SENTINELLE_S3_ADDRESSING_STYLE", "auto", environ).strip().lower() or "auto"
    if style not in ADDRESSING_STYLES:
        raise SettingError(f"SENTINELLE_S3_ADDRESSING_STYLE={style!r} is not one of "
                           f"{', '.join(ADDRESSING_STYLES)}")
    access_key = env_str("SENTINELLE_S3_ACCESS_KEY_ID", "", environ).strip()
    secret_key = env_secret("SENTINELLE_S3_SECRET_ACCESS_KEY", "", environ).strip()
    if bool(access_key) != bool(secret_key):
        # One without the other would silently fall back to boto3's own credential chain.
        raise SettingError("SENTINELLE_S3_ACCESS_KEY_ID and SENTINELLE_S3_SECRET_ACCESS_KEY "
                           "(or _FILE) are given together or not at all")
    if importlib.util.find_spec("storages") is None or importlib.util.find_spec("boto3") is None:
        raise SettingError("SENTINELLE_STORAGE=s3 needs django-storages and boto3: "
                           "pip install 'sentinelle[s3]'")
    options: dict[str, Any] = {
        "bucket_name": bucket,
        "endpoint_url": env_str("SENTINELLE_S3_ENDPOINT_URL", "", environ).strip() or None,
        "region_name": env_str("SENTINELLE_S3_REGION", "", environ).strip() or None,
        # Unset, boto3 finds credentials itself (instance role, ~/.aws, AWS_* variables).
        "access_key": access_key or None,
        "secret_key": secret_key or None,
        "addressing_style": None if style == "auto" else style,
        "location": env_str("SENTINELLE_S3_PREFIX", "", environ).strip().strip("/"),
        # As on disk: a second file of the same name gets a new name, never replaces the first.
        "file_overwrite": False,
        # Objects take the bucket's own (private) policy; files are only ever served through
        # the platform's views, which check who may read them, never by a bucket URL.
        "default_acl": None,
        # Every object is opaque bytes to download, whatever type the uploader's browser
        # claimed: should a bucket URL escape (the admin's file widget links a presigned URL),
        # an uploaded HTML file opened from it downloads rather than runs. The platform's
        # views send their own types and never read these back.
        "object_parameters": {"ContentType": "application/octet-stream",
                              "ContentDisposition": "attachment"},
        "querystring_auth": True,
        "max_memory_size": env_int("SENTINELLE_S3_MAX_MEMORY_BYTES", DEFAULT_S3_MAX_MEMORY,
                                   environ),
    }
    return {"default": {"BACKEND": S3_BACKEND, "OPTIONS": options},
            "staticfiles": static}


def is_local(storage: Any) -> bool:
    """Whether `storage` keeps its files on this machine's disk (under MEDIA_ROOT)."""
    from django.core.files.storage import FileSystemStorage

    return isinstance(storage, FileSystemStorage)


def file_response(field_file: Any, *, filename: str,
                  content_type: str | None = None) -> FileResponse:
    """A download of a stored file (as an attachment), streamed from its storage in chunks.
    A row whose file is gone (deleted by hand, a lost disk: `sentinelle files check` lists it
    for a human) answers 404, as the file is not found, and the log says which; not a server
    error."""
    from django.http import FileResponse, Http404

    try:
        stream = download_stream(field_file)
    except FileNotFoundError:
        log.error("%s: a row names it, the storage does not hold it (see 'sentinelle files "
                  "check')", field_file.name)
        raise Http404 from None
    response = FileResponse(stream, as_attachment=True, filename=filename,
                            content_type=content_type)
    if isinstance(stream, _Body):
        response.block_size = DOWNLOAD_CHUNK
        if stream.size is not None:
            response["Content-Length"] = str(stream.size)
    return response


def spooled_response(write: Callable[[BinaryIO], None], *, filename: str,
                     content_type: str) -> FileResponse:
    """A download of what ``write`` produces, spooled to a temporary file first: the writer may
    be slower than the client, and a failure must not leave a half-sent download. The response
    closes (and so deletes) the file once sent; a writer that raises deletes it at once."""
    from django.http import FileResponse

    spool = tempfile.TemporaryFile()  # noqa: SIM115  (closed by FileResponse)
    try:
        write(spool)
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return FileResponse(spool, as_attachment=True, content_type=content_type,
                        filename=filename)


def download_stream(field_file: Any) -> BinaryIO:
    """A file-like object that reads `field_file` from its storage chunk by chunk, for a
    FileResponse: from an S3 bucket, the object's body as it arrives; django-storages' own
    `open()` would first copy the whole object into memory or a temporary file."""
    storage = field_file.storage
    bucket = getattr(storage, "bucket", None)
    if bucket is None or not hasattr(storage, "_normalize_name"):
        return field_file.open("rb")
    from botocore.exceptions import ClientError
    from storages.utils import clean_name

    from sentinelle.core.files.transactional import pending_name

    # The object's key exactly as django-storages derives it (S3Storage._open does the same);
    # inside the transaction that wrote it, or just committed, the object may be pending still.
    names = [getattr(storage, "stored_name", str)(field_file.name)]
    if names[0] == field_file.name:
        names.append(pending_name(field_file.name))
    for name in names:
        try:
            answer = bucket.Object(storage._normalize_name(clean_name(name))).get()
            break
        except ClientError as exc:
            problem = exc
    else:
        # As a missing file on disk: the views and commands already treat OSError as "missing".
        raise FileNotFoundError(f"{field_file.name}: {problem}") from None
    return _Body(answer["Body"], Path(field_file.name).name, answer.get("ContentLength"))


class _Body:
    """An S3 object's streaming body with the `read`/`close`/`name` a FileResponse uses."""

    def __init__(self, body: Any, name: str, size: int | None) -> None:
        self._body = body
        self.name = name
        self.size = size

    def read(self, size: int = -1) -> bytes:
        return self._body.read(None if size is None or size < 0 else size)

    def close(self) -> None:
        self._body.close()
