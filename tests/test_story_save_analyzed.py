"""A story with tracker tables (dna, insights, ...) saves and loads equal."""

import shimmy_lab as sl


def test_analysed_story_roundtrip(tmp_path):
    story = sl.analyze(sl.datasets.load("carroll-alice"))
    assert len(story.insights) and "dna" in story.tables
    story.save(tmp_path / "alice")
    back = sl.Story.load(tmp_path / "alice")
    assert back == story
    assert isinstance(back.insights["characters"].iloc[0], list)
