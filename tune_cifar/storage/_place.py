"""Where experiments live: a local folder, or object storage (``s3://``, ``gs://``) through
pyarrow's file systems, as Ray Tune uses them.

    place = storage_place("s3://bucket/results")       # a Place: uri, file system, path
    check_storage(place)                                # one line, within about 15 s

Credentials, region and endpoint come from where the AWS tools read them:
``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN``, ``AWS_PROFILE`` and
``~/.aws``, an instance or container role, ``AWS_REGION``, ``AWS_ENDPOINT_URL_S3`` or
``AWS_ENDPOINT_URL`` (an S3-compatible store: MinIO, Ceph, moto). tune-cifar never prints them
and never writes them down: the spec file and the journal keep the URI only, and the file
system handed to Ray's workers is built without keys, so each node reads its own.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tune_cifar.errors import UsageError

CONNECT_TIMEOUT_S, REQUEST_TIMEOUT_S, ATTEMPTS = 3, 5, 2  # about 15 s before giving up


@dataclass(frozen=True)
class Place:
    """A folder in some file system: ``uri`` as the user wrote it (normalised), ``fs`` the
    pyarrow file system, ``path`` the path within it."""

    uri: str
    fs: Any
    path: str

    @property
    def is_local(self) -> bool:
        return "://" not in self.uri

    @property
    def local(self) -> Path:
        """The folder as a local path (a local place only)."""
        return Path(self.path)

    @property
    def name(self) -> str:
        return self.path.rstrip("/").rsplit("/", 1)[-1]

    def child(self, name: str) -> Place:
        return Place(f"{self.uri.rstrip('/')}/{name}", self.fs, f"{self.path.rstrip('/')}/{name}")

    def parent(self) -> Place:
        uri, path = self.uri.rstrip("/").rsplit("/", 1)[0], self.path.rstrip("/").rsplit("/", 1)[0]
        return Place(uri, self.fs, path)

    def exists(self) -> bool:
        import pyarrow.fs as pafs

        return self.fs.get_file_info(self.path).type != pafs.FileType.NotFound

    def read_text(self) -> str:
        with self.fs.open_input_stream(self.path) as f:
            return f.read().decode()

    def write_text(self, text: str) -> None:
        with self.fs.open_output_stream(self.path) as f:
            f.write(text.encode())

    def __str__(self) -> str:
        return self.uri


def endpoint() -> str | None:
    """The S3 endpoint the AWS tools would use, when not AWS itself."""
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None


def s3_filesystem() -> Any:
    """pyarrow's S3 file system with the AWS tools' settings, short timeouts and no keys of its
    own (picklable to Ray's workers, each of which reads its own credentials)."""
    import pyarrow.fs as pafs

    options: dict[str, Any] = {
        "connect_timeout": CONNECT_TIMEOUT_S,
        "request_timeout": REQUEST_TIMEOUT_S,
        "retry_strategy": pafs.AwsStandardS3RetryStrategy(ATTEMPTS),
    }
    if endpoint():
        options["endpoint_override"] = endpoint()
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        options["region"] = region
    return pafs.S3FileSystem(**options)


def storage_place(location: str | Path, what: str = "path") -> Place:
    """A Place for a local path, ``~/...``, ``file://`` URI, ``s3://`` or ``gs://`` URI."""
    import pyarrow.fs as pafs

    text = str(location)
    if text.startswith("file://"):
        text = text.removeprefix("file://")
    if text.startswith("s3://"):
        path = text.removeprefix("s3://").strip("/")
        if not path:
            raise UsageError(f"{what} {location}: name a bucket (s3://BUCKET/PREFIX)")
        _check_key_path(location, what, path)
        return Place(f"s3://{path}", s3_filesystem(), path)
    if text.startswith(("gs://", "gcs://")):
        try:
            fs, path = pafs.FileSystem.from_uri(text)
        except (OSError, ValueError) as exc:
            raise UsageError(f"{what} {location}: {exc}") from None
        path = path.strip("/")
        _check_key_path(location, what, path)
        return Place(f"gs://{path}", fs, path)
    if "://" in text:
        raise UsageError(
            f"{what} {location}: only local paths, file://, s3:// and gs:// URIs are supported"
        )
    try:
        local = str(Path(text).expanduser().resolve())
    except (RuntimeError, OSError) as exc:  # a loop of symbolic links (3.11 raises RuntimeError)
        raise UsageError(f"{what} {location}: {describe_path_error(exc)}") from None
    return Place(local, pafs.LocalFileSystem(), local)


def _check_key_path(location: str | Path, what: str, path: str) -> None:
    """Object storage has names, not folders: a "." or ".." segment would be a name of its
    own (an experiment somewhere else than the one meant) and an empty one is no name."""
    odd = [part for part in path.split("/") if part in ("", ".", "..")]
    if odd:
        shown = "an empty segment ('//')" if "" in odd else f"a {odd[0]!r} segment"
        raise UsageError(
            f"{what} {location}: {shown} is not allowed in an object storage URI; write "
            "the prefix plainly (s3://BUCKET/PREFIX/NAME)"
        )


def describe_path_error(exc: BaseException) -> str:
    """One line for a local path that cannot be resolved (a symbolic link loop)."""
    if isinstance(exc, RuntimeError) or getattr(exc, "errno", None) == errno.ELOOP:
        return "a loop of symbolic links"
    return str(getattr(exc, "strerror", None) or exc)


def check_storage(place: Place, what: str = "--storage-path") -> None:
    """Refuse, in one line and within about 15 s, object storage that cannot be used: a bucket
    that does not exist, no credentials, credentials refused, an endpoint that does not
    answer. A local place is checked where it is written."""
    import pyarrow.fs as pafs

    if place.is_local or not place.uri.startswith("s3://"):
        return
    bucket = place.path.split("/", 1)[0]
    where = f" at {endpoint()}" if endpoint() else ""
    try:
        info = place.fs.get_file_info(bucket)
    except OSError as exc:
        raise UsageError(f"{what} {place.uri}: {describe_s3_error(str(exc), where)}") from None
    if info.type == pafs.FileType.NotFound:
        raise UsageError(f"{what} {place.uri}: bucket {bucket!r} does not exist{where}")


def describe_s3_error(text: str, where: str) -> str:
    """One line for an S3 failure, its cause named, no credentials in it."""
    if "NETWORK_CONNECTION" in text or "curlCode" in text:
        return f"the storage endpoint{where or ' (AWS S3)'} does not answer"
    if not has_credentials():
        return (
            "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
            f"AWS_PROFILE, or run where an instance role gives them (refused{where})"
        )
    refused = (
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ACCESS_DENIED",
        "AccessDenied",
        "403",
        "INVALID_ACCESS_KEY_ID",
        "SIGNATURE_DOES_NOT_MATCH",
    )
    if any(r in text for r in refused):
        return f"the storage refused these credentials{where}"
    return text.splitlines()[0][:300]


def has_credentials() -> bool:
    """Whether a credential source the AWS tools read is set (an instance role aside)."""
    names = (
        "AWS_ACCESS_KEY_ID",
        "AWS_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    )
    files = [
        os.environ.get("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"),
        os.environ.get("AWS_CONFIG_FILE", "~/.aws/config"),
    ]
    return any(os.environ.get(n) for n in names) or any(
        Path(f).expanduser().is_file() for f in files
    )
