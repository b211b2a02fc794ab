"""losslint's own TOML files are parsed once and read back from their marshal copy exactly."""

from __future__ import annotations

import shutil
from pathlib import Path

import tomllib

from losslint import toml_cache
from losslint.analysis import catalogue

CATALOGUE = Path(catalogue.__file__).with_name("catalogue.toml")


def test_the_copy_holds_what_tomllib_parses(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.toml"
    shutil.copyfile(CATALOGUE, path)
    parsed = tomllib.loads(CATALOGUE.read_text("utf-8"))
    first = toml_cache.load(str(path))
    cached = Path(toml_cache.cached_path(str(path), path.read_text("utf-8")))
    assert cached.is_file()
    again = toml_cache.load(str(path))
    assert first == again == parsed
    assert list(again) == list(parsed)  # tables in their order
    # an edit is a new copy; the old one is removed
    path.write_text(path.read_text("utf-8") + '\n[extra]\nnames = ["x"]\n', "utf-8")
    assert toml_cache.load(str(path))["extra"] == {"names": ["x"]}
    assert not cached.exists()
    assert len(list(cached.parent.glob("catalogue.toml.*.marshal"))) == 1


def test_a_corrupt_copy_is_parsed_again(tmp_path: Path) -> None:
    path = tmp_path / "data.toml"
    path.write_text('[a]\nb = [1, 2.5, "c", true]\n', "utf-8")
    cached = Path(toml_cache.cached_path(str(path), path.read_text("utf-8")))
    cached.parent.mkdir()
    cached.write_bytes(b"\xff\x00 not marshal")
    assert toml_cache.load(str(path)) == {"a": {"b": [1, 2.5, "c", True]}}
    assert toml_cache.load(str(path)) == {"a": {"b": [1, 2.5, "c", True]}}


def test_dates_and_unwritable_folders_are_parsed_every_time(tmp_path: Path) -> None:
    path = tmp_path / "dated.toml"
    path.write_text("when = 2026-12-02\n", "utf-8")
    assert str(toml_cache.load(str(path))["when"]) == "2026-12-02"  # marshal cannot hold it
    assert not (tmp_path / "__pycache__").exists() or not any((tmp_path / "__pycache__").iterdir())
    # a folder where `__pycache__` cannot be made (a file holds the name; even root fails)
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / "__pycache__").write_text("not a folder")
    data = blocked / "x.toml"
    data.write_text("a = 1\n", "utf-8")
    assert toml_cache.load(str(data)) == {"a": 1}
    assert toml_cache.load(str(data)) == {"a": 1}
    assert (blocked / "__pycache__").read_text() == "not a folder"
