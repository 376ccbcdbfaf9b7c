"""A story with tracker tables (dna, insights, ...) saves and loads equal; one saved
before columns were renamed (story.schema.RENAMED) loads with today's names."""

import json

import pandas as pd
import pytest

import shimmy_lab as sl
from shimmy_lab.story import io
from shimmy_lab.story.schema import RENAMED, RENAMED_KINDS


@pytest.fixture(scope="module")
def story():
    return sl.analyze(sl.datasets.load("carroll-alice"))


def test_analysed_story_roundtrip(tmp_path, story):
    assert len(story.insights) and "dna" in story.tables
    story.save(tmp_path / "alice")
    back = sl.Story.load(tmp_path / "alice")
    assert back == story
    assert isinstance(back.insights["characters"].iloc[0], list)


def _save_with_old_names(story, path):
    """Save ``story`` as a shimmy_lab from before the renames wrote it: the renamed
    columns and insight kinds under their old names, in the Parquet files of ``io.save``."""
    vdir = story.save(path)
    manifest = json.loads((vdir / "manifest.json").read_text(encoding="utf-8"))
    old_kinds = {new: old for old, new in RENAMED_KINDS.items()}
    for name, info in manifest["tables"].items():
        df = pd.read_parquet(vdir / info["file"])
        df = df.rename(columns={new: old for old, new in RENAMED.get(name, {}).items()})
        if name == "insights":
            for new, old in old_kinds.items():
                hit = df["kind"] == new
                df.loc[hit, "insight_id"] = df.loc[hit, "insight_id"].str.replace(f"-{new}-", f"-{old}-")
                df.loc[hit, "kind"] = old
        df.to_parquet(vdir / info["file"], index=False)
    manifest["schema_version"] = 1  # the version of the old names (2: renamed)
    (vdir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return vdir


def test_a_story_saved_with_the_old_column_names_loads_with_the_new(tmp_path, story):
    assert (story.insights["kind"] == "abandoned_thread").any()
    vdir = _save_with_old_names(story, tmp_path / "old")
    saved = {n: pd.read_parquet(vdir / f"{n}.parquet") for n in ("dna", "echoes", "constraint_nodes",
                                                                  "engagement", "insights")}
    assert {"unit", "type"} <= set(saved["dna"].columns) and "echo" in saved["echoes"].columns
    assert "node" in saved["constraint_nodes"].columns
    assert {"index", "open_loops", "loops_abandoned"} <= set(saved["engagement"].columns)
    assert "count" in pd.read_parquet(vdir / "names.parquet").columns
    assert "abandoned_loop" in set(saved["insights"]["kind"])
    assert io.read(tmp_path / "old")  # schema version 1 migrates to 2
    assert not set(saved["insights"]["kind"]) & set(RENAMED_KINDS.values())

    back = sl.Story.load(tmp_path / "old")
    assert back == story  # every table: new names, same values, same column and row order
    assert list(back.tables["dna"].columns[:4]) == ["unit_id", "scene", "chapter", "kind"]
    assert back.tables["engagement"]["segment"].equals(story.tables["engagement"]["segment"])
    assert back.names.columns[1] == "occurrences" and (back.names["occurrences"] > 0).all()
    ab = back.insights[back.insights["kind"] == "abandoned_thread"]
    assert len(ab) and ab["insight_id"].str.contains("-abandoned_thread-").all()
    assert io.read(tmp_path / "old")["extra"]["dna"].columns.equals(story.tables["dna"].columns)
