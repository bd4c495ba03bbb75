"""Where experiments live, without a server: places, the cache's bookkeeping, shown paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from tune_cifar.constants import REMOTE_MARK
from tune_cifar.errors import UsageError
from tune_cifar.storage import shown, storage_place
from tune_cifar.storage._cache import _forget_gone


def test_places_of_every_kind(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")  # never AWS itself
    local = storage_place(f"file://{tmp_path}")
    assert local.is_local and local.local == tmp_path and local.child("x").local == tmp_path / "x"
    remote = storage_place("s3://bucket/runs/").child("exp")
    assert (remote.uri, remote.path, remote.name) == (
        "s3://bucket/runs/exp",
        "bucket/runs/exp",
        "exp",
    )
    assert not remote.is_local and remote.parent().uri == "s3://bucket/runs"
    for bad, message in (
        ("ftp://host/x", "only local paths, file://, s3:// and gs://"),
        ("s3://", "name a bucket"),
    ):
        with pytest.raises(UsageError, match=message):
            storage_place(bad)


def test_the_cache_forgets_what_the_storage_no_longer_has(tmp_path):
    for folder in (
        "trial_a/checkpoint_000001",
        "trial_a/checkpoint_000002",
        "trial_b",
        "analysis",
        "confirm/trial_c",
    ):
        (tmp_path / folder).mkdir(parents=True)
    _forget_gone(tmp_path, {"trial_a", "trial_a/checkpoint_000002", "confirm"})
    left = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    assert left == ["analysis", "confirm", "trial_a", "trial_a/checkpoint_000002"]


def test_cached_paths_are_shown_as_the_uris_they_mirror(tmp_path):
    (tmp_path / REMOTE_MARK).write_text("s3://bucket/runs/exp\n")
    checkpoint = tmp_path / "trial_a" / "checkpoint_000003"
    checkpoint.mkdir(parents=True)
    assert shown(checkpoint) == "s3://bucket/runs/exp/trial_a/checkpoint_000003"
    assert shown(tmp_path) == "s3://bucket/runs/exp"
    assert shown(Path("/elsewhere/x")) == "/elsewhere/x" and shown(None) == ""
