"""Edge cases of Story construction: empty and blank texts."""

import shimmy_lab as sl


def test_empty_and_blank_texts_give_empty_tables():
    for text in ("", "  \n\n  "):
        story = sl.Story.from_text(text)
        assert story.summary()["paragraphs"] == 0 and len(story.quotes) == 0
        story.validate()


def test_append_after_blank_reads_everything():
    story = sl.Story.from_text("\n\n")
    story.append('Anna walked in. "Hello," said Anna.')
    assert len(story.quotes) == 1 and story.quotes["speaker"].iloc[0] == story.character("Anna")


def test_drift_of_empty_candidate():
    story = sl.analyze('"Where is the key?" asked Anna.\n\n"In the well," said Tom.\n')
    assert sl.drift(story, "").score == 0.0
