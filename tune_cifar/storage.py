"""Where experiments live: a local folder, or object storage (``s3://``, ``gs://``) through
pyarrow's file systems, as Ray Tune uses them.

    place = storage_place("s3://bucket/results")       # a Place: uri, file system, path
    check_storage(place)                                # one line, within about 15 s
    folder = local_copy(place.child("quick-2026..."))   # the results' files, in a named cache

Credentials, region and endpoint come from where the AWS tools read them:
``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN``, ``AWS_PROFILE`` and
``~/.aws``, an instance or container role, ``AWS_REGION``, ``AWS_ENDPOINT_URL_S3`` or
``AWS_ENDPOINT_URL`` (an S3-compatible store: MinIO, Ceph, moto). tune-cifar never prints them
and never writes them down: the spec file and the journal keep the URI only, and the file
system handed to Ray's workers is built without keys, so each node reads its own.

The results commands read an experiment in object storage through a local cache (``$TUNE_
CIFAR_CACHE``, else ``~/.cache/tune-cifar``): the spec, the journal, each trial's
``result.json`` / ``progress.csv`` / ``error.txt`` and the confirmation's tables, never the
pickles, and the checkpoints' names only; a checkpoint's files come down when it is used
(``fetch_checkpoint``). So ``analyze`` of a 500-trial experiment downloads no checkpoint.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tune_cifar.errors import UsageError

CLOUD_SCHEMES = ("s3://", "gs://", "gcs://")
CACHE_ENV = "TUNE_CIFAR_CACHE"
REMOTE_MARK = ".tune_cifar_remote"  # in a cached folder: the URI it mirrors
# In a trial's folder: its scheduler stopped it while it waited, between reports (its result
# rows cannot say so: promotion.PromotionASHA writes it, experiment.trial_status reads it)
STOPPED_FILE = "stopped.json"
# What the results commands read of an experiment (never the pickles, never checkpoints' files)
RESULT_FILES = ("result.json", "progress.csv", "error.txt", "params.json", STOPPED_FILE)
TOP_FILES = (".json", ".log", ".csv", ".md", ".txt")
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


def is_cloud(location: str | Path) -> bool:
    return str(location).startswith(CLOUD_SCHEMES)


def endpoint() -> str | None:
    """The S3 endpoint the AWS tools would use, when not AWS itself."""
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None


def s3_filesystem() -> Any:
    """pyarrow's S3 file system with the AWS tools' settings, short timeouts and no keys of its
    own (picklable to Ray's workers, each of which reads its own credentials)."""
    import pyarrow.fs as pafs

    options: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT_S,
                               "request_timeout": REQUEST_TIMEOUT_S,
                               "retry_strategy": pafs.AwsStandardS3RetryStrategy(ATTEMPTS)}
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
        return Place(f"s3://{path}", s3_filesystem(), path)
    if text.startswith(("gs://", "gcs://")):
        try:
            fs, path = pafs.FileSystem.from_uri(text)
        except (OSError, ValueError) as exc:
            raise UsageError(f"{what} {location}: {exc}") from None
        return Place(f"gs://{path.strip('/')}", fs, path.strip("/"))
    if "://" in text:
        raise UsageError(f"{what} {location}: only local paths, file://, s3:// and gs:// URIs "
                         "are supported")
    path = Path(text).expanduser().resolve()
    return Place(str(path), pafs.LocalFileSystem(), str(path))


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
        raise UsageError(f"{what} {place.uri}: {_s3_error(str(exc), where)}") from None
    if info.type == pafs.FileType.NotFound:
        raise UsageError(f"{what} {place.uri}: bucket {bucket!r} does not exist{where}")


def _s3_error(text: str, where: str) -> str:
    """One line for an S3 failure, its cause named, no credentials in it."""
    if "NETWORK_CONNECTION" in text or "curlCode" in text:
        return f"the storage endpoint{where or ' (AWS S3)'} does not answer"
    if not has_credentials():
        return ("no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
                f"AWS_PROFILE, or run where an instance role gives them (refused{where})")
    refused = ("InvalidAccessKeyId", "SignatureDoesNotMatch", "ACCESS_DENIED", "AccessDenied",
               "403", "INVALID_ACCESS_KEY_ID", "SIGNATURE_DOES_NOT_MATCH")
    if any(r in text for r in refused):
        return f"the storage refused these credentials{where}"
    return text.splitlines()[0][:300]


def has_credentials() -> bool:
    """Whether a credential source the AWS tools read is set (an instance role aside)."""
    names = ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE",
             "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI")
    files = [os.environ.get("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"),
             os.environ.get("AWS_CONFIG_FILE", "~/.aws/config")]
    return any(os.environ.get(n) for n in names) or any(
        Path(f).expanduser().is_file() for f in files)


def cache_root() -> Path:
    return Path(os.environ.get(CACHE_ENV) or "~/.cache/tune-cifar").expanduser()


def cache_folder(place: Place) -> Path:
    """Where the cache keeps a remote place: CACHE/<scheme>/<bucket>/<path>."""
    scheme = place.uri.split("://", 1)[0]
    return cache_root() / scheme / place.path


def local_copy(place: Place) -> Path:
    """A local folder holding what the results commands read of the experiment at ``place``
    (the place itself when it is local); refreshed from the storage on every call."""
    import pyarrow.fs as pafs

    if place.is_local:
        return place.local
    check_storage(place, "experiment")
    target = cache_folder(place)
    try:
        infos = place.fs.get_file_info(pafs.FileSelector(place.path, recursive=True,
                                                         allow_not_found=True))
    except OSError as exc:
        raise UsageError(f"experiment {place.uri}: {_s3_error(str(exc), '')}") from None
    target.mkdir(parents=True, exist_ok=True)
    (target / REMOTE_MARK).write_text(place.uri + "\n")
    _forget_gone(target, {info.path[len(place.path):].lstrip("/") for info in infos})
    for info in infos:
        relative = info.path[len(place.path):].lstrip("/")
        parts = relative.split("/")
        if info.type == pafs.FileType.Directory:
            if parts[-1].startswith("checkpoint_"):
                (target / relative).mkdir(parents=True, exist_ok=True)
                (target / relative / REMOTE_MARK).write_text(f"{place.uri}/{relative}\n")
            continue
        if _wanted(parts):
            _download(place.fs, info.path, target / relative, info.size)
    return target


def _forget_gone(target: Path, remote: set[str]) -> None:
    """Drop cached trial and checkpoint folders the storage no longer has (an experiment
    replaced with --overwrite, checkpoints retention deleted); local outputs (analysis/) stay."""
    for folder in sorted(target.rglob("*"), reverse=True):
        if (folder.is_dir() and folder.name.startswith(("trial_", "checkpoint_"))
                and folder.relative_to(target).as_posix() not in remote):
            shutil.rmtree(folder, ignore_errors=True)


def _wanted(parts: list[str]) -> bool:
    """A results file: at the top, in a trial folder, or in the confirmation's folder."""
    name = parts[-1]
    if name.endswith(".pkl") or any(p.startswith("checkpoint_") for p in parts):
        return False
    if len(parts) == 1 or (parts[0] == "confirm" and len(parts) == 2):
        return name.endswith(TOP_FILES)
    return name in RESULT_FILES or (parts[-2:-1] == ["analysis"] and name.endswith(".csv"))


def _download(fs: Any, path: str, local: Path, size: int | None = None) -> None:
    """Copy one file down unless the cached copy has the same size (files only grow)."""
    if local.is_file() and size is not None and local.stat().st_size == size:
        return
    local.parent.mkdir(parents=True, exist_ok=True)
    partial = local.with_name(local.name + ".partial")
    with fs.open_input_stream(path) as source, partial.open("wb") as sink:
        shutil.copyfileobj(source, sink)
    os.replace(partial, local)  # a reader never sees half a file


def fetch_checkpoint(folder: Path) -> Path:
    """A cached checkpoint folder with its files: downloaded now if only its name was."""
    import pyarrow.fs as pafs

    mark = Path(folder) / REMOTE_MARK
    if not mark.is_file():
        return Path(folder)
    place = storage_place(mark.read_text().strip())
    for info in place.fs.get_file_info(pafs.FileSelector(place.path, recursive=True)):
        if info.type == pafs.FileType.File:
            relative = info.path[len(place.path):].lstrip("/")
            _download(place.fs, info.path, Path(folder) / relative, info.size)
    return Path(folder)


def upload(local: Path, place: Place) -> None:
    """Copy one local file to ``place`` (written whole, or not at all, by object storage)."""
    with local.open("rb") as source, place.fs.open_output_stream(place.path) as sink:
        shutil.copyfileobj(source, sink)


def remote_of(folder: Path) -> str | None:
    """The URI a cached folder mirrors, if it is one."""
    mark = Path(folder) / REMOTE_MARK
    return mark.read_text().strip() if mark.is_file() else None


def shown(path: Path | str | None) -> str:
    """A path as a user should read it: a file of the local cache as the URI it mirrors."""
    if path is None:
        return ""
    path = Path(path)
    for folder in [path, *path.parents]:
        uri = remote_of(folder)
        if uri is not None:
            rest = path.relative_to(folder).as_posix()
            return uri if rest == "." else f"{uri}/{rest}"
    return str(path)


def download(place: Place, local: Path) -> None:
    """Copy one file of ``place`` down to ``local`` (whole, by a rename), if it changed size."""
    info = place.fs.get_file_info(place.path)
    _download(place.fs, place.path, local, info.size)
