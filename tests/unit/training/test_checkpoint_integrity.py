"""Tampering is always caught: random byte flips and truncations, missing or unlisted files, and pickle payloads
(which must be refused without ever being deserialised)."""

from __future__ import annotations

import pickle
import random
from pathlib import Path

import pytest

from embodied.training.checkpoint import CheckpointError, latest_checkpoint, load_checkpoint
from embodied.training.manifest import write_manifest
from tests.unit.training.checkpoint_support import save_trained

MUTATIONS = 320


class _Hostile:
    """Unpickling this runs code: it writes ``marker``. Built here only, to attack the loader."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",)


def _payload(marker: Path, protocol: int) -> bytes:
    return pickle.dumps(_Hostile(marker), protocol=protocol)


def test_random_byte_flips_and_truncations_never_load(tmp_path: Path) -> None:
    path = save_trained(tmp_path, 42)
    originals = {p.name: p.read_bytes() for p in sorted(path.iterdir())}
    rng = random.Random(20240601)
    for index in range(MUTATIONS):
        name = sorted(originals)[index % len(originals)]
        data = bytearray(originals[name])
        if index % 3 == 2:
            mutated = bytes(data[: rng.randrange(len(data))])
            what = f"truncate {name} to {len(mutated)}"
        else:
            offset = rng.randrange(len(data))
            data[offset] ^= rng.randrange(1, 256)
            mutated, what = bytes(data), f"flip {name}[{offset}]"
        (path / name).write_bytes(mutated)
        with pytest.raises(CheckpointError) as caught:
            load_checkpoint(path)
        assert name in str(caught.value), what
        assert latest_checkpoint(tmp_path) is None, what
        (path / name).write_bytes(originals[name])
    assert load_checkpoint(path).step == 42  # every file was put back intact


def test_missing_unlisted_and_nested_files_are_refused(tmp_path: Path) -> None:
    path = save_trained(tmp_path, 1)
    (path / "notes.txt").write_text("hello")
    with pytest.raises(CheckpointError, match=r"not in the manifest \['notes.txt'\]"):
        load_checkpoint(path)
    (path / "notes.txt").unlink()
    scheduler = (path / "scheduler.json").read_bytes()
    (path / "scheduler.json").unlink()
    with pytest.raises(CheckpointError, match=r"listed but missing \['scheduler.json'\]"):
        load_checkpoint(path)
    (path / "scheduler.json").write_bytes(scheduler)
    (path / "sub").mkdir()
    with pytest.raises(CheckpointError, match="plain files only"):
        load_checkpoint(path)
    (path / "sub").rmdir()
    (path / "manifest.json").unlink()
    with pytest.raises(CheckpointError, match=r"no manifest\.json"):
        load_checkpoint(path)


@pytest.mark.parametrize("suffix", [".pkl", ".bin", ".pt", ".pth", ".pickle", ".ckpt"])
def test_pickle_suffix_files_are_refused_unopened(tmp_path: Path, suffix: str) -> None:
    path = save_trained(tmp_path, 1)
    marker = tmp_path / "marker"
    (path / f"extra{suffix}").write_bytes(_payload(marker, protocol=4))
    with pytest.raises(CheckpointError, match=rf"extra\{suffix}: refusing a pickle-format file"):
        load_checkpoint(path)
    assert latest_checkpoint(tmp_path) is None
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
@pytest.mark.parametrize("victim", ["model.safetensors", "trainer_state.json"])
def test_pickle_header_in_place_of_a_checkpoint_file_is_refused(tmp_path: Path, protocol: int, victim: str) -> None:
    """Even with a manifest rewritten to match the hostile bytes, the pickle header is refused."""
    path = save_trained(tmp_path, 1)
    marker = tmp_path / "marker"
    (path / victim).write_bytes(_payload(marker, protocol))
    with pytest.raises(CheckpointError, match=rf"{victim}: file starts with a pickle protocol {protocol} header"):
        load_checkpoint(path)
    (path / "manifest.json").unlink()
    write_manifest(path, 1)
    with pytest.raises(CheckpointError, match=rf"{victim}: file starts with a pickle protocol"):
        load_checkpoint(path)
    assert not marker.exists()


def test_headerless_pickle_with_a_matching_manifest_fails_as_safetensors(tmp_path: Path) -> None:
    """Protocols 0 and 1 have no header to spot; the bytes still only ever reach the safetensors parser."""
    path = save_trained(tmp_path, 1)
    marker = tmp_path / "marker"
    for protocol in (0, 1):
        (path / "model.safetensors").write_bytes(_payload(marker, protocol))
        (path / "manifest.json").unlink()
        write_manifest(path, 1)
        with pytest.raises(CheckpointError, match="model: not a valid safetensors file"):
            load_checkpoint(path)
    assert not marker.exists()


def test_the_hostile_payload_is_live(tmp_path: Path) -> None:
    """Guard for the tests above: unpickling the payload really runs code, so 'no marker' means 'never unpickled'."""
    marker = tmp_path / "proof"
    pickle.loads(_payload(marker, protocol=4))  # deliberately unsafe, on bytes this test built itself
    assert marker.read_text() == "pwned"
