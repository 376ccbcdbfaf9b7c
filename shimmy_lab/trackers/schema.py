"""Schemas of the tables written by the narrative trackers.

Same conventions as :mod:`shimmy_lab.story.schema`: one DataFrame per table, pandas
nullable dtypes, and half-open ``start``/``end`` character offsets into
``story.text`` on every row that points at text.  ``characters`` columns hold
Python lists of character names (dtype ``object``).

:func:`coerce` builds a frame with the schema dtypes; :func:`validate` checks one.
Columns renamed since stories were first saved (``dna.unit`` -> ``unit_id``, ...) are
listed in :data:`shimmy_lab.story.schema.RENAMED`; a saved story is renamed on load.
"""

from __future__ import annotations

from ..tables import Column, Schema

__all__ = ["TABLES", "PRIORITIES", "columns", "empty", "coerce", "validate", "describe"]

#: insight priorities, most urgent first
PRIORITIES = ("critical", "important", "interesting", "minor")


def _c(name: str, dtype: str, doc: str) -> Column:
    return Column(name, dtype, doc)


_S = _c("start", "Int64", "first character of the span in story.text")
_E = _c("end", "Int64", "one past the last character (half-open)")

TABLES: dict[str, tuple[str, tuple[Column, ...]]] = {
    "insights": (
        "one finding of a narrative system (the common output of every tracker)",
        (
            _c("insight_id", "string", "stable id: system-kind-start"),
            _c("system", "string", "tracker(s) that found it, '+'-joined when correlated"),
            _c("kind", "string", "e.g. fact_contradiction, dead_character_acts, voice_drift, "
               "pov_shift, tense_shift, topic_drift, open_thread, payoff, blocked_thread, "
               "echo_symmetry, abandoned_thread"),
            _c("priority", "string", "critical | important | interesting | minor"),
            _c("severity", "float64", "0..1, how strong the evidence is"),
            _c("title", "string", "one-line summary"),
            _c("message", "string", "what was found and why it matters"),
            _S, _E,
            _c("characters", "object", "list of character names involved"),
            _c("suggestion", "string", "how to fix or use it"),
        ),
    ),
    "dna": (
        "one CAPR unit (contradiction, action, pressure or return) of a scene",
        (
            _c("unit_id", "Int64", "sequential unit index"),
            _c("scene", "Int64", "scene index"),
            _c("chapter", "Int64", "chapter index"),
            _c("kind", "string", "contradiction | action | pressure | return"),
            _c("description", "string", "the sentence (trimmed) that carries the unit"),
            _c("characters", "object", "list of character names in the sentence"),
            _S, _E,
            _c("intensity", "float64", "0..1 strength of the cue words"),
            _c("terms", "string", "salient terms of the unit, '|'-separated"),
            _c("answers", "string", "'|'-separated unit ids this unit answers (returns), or NA"),
            _c("answered_by", "Int64", "first unit that answers this one, NA if open"),
            _c("story_words", "Int64", "story time: words from the start of the story"),
        ),
    ),
    "constraint_nodes": (
        "one node of the constraint graph",
        (
            _c("node_id", "string", "node id, e.g. 'character:emma', 'fact:12', 'thread:3'"),
            _c("kind", "string", "character | place | fact | thread"),
            _c("label", "string", "human-readable label"),
            _c("status", "string", "alive/dead/unknown for characters, open/answered for "
               "threads, NA otherwise"),
            _c("chapter", "Int64", "chapter where the node first appears"),
            _S, _E,
        ),
    ),
    "constraint_edges": (
        "one edge of the constraint graph",
        (
            _c("source", "string", "node id"),
            _c("target", "string", "node id"),
            _c("relation", "string", "has_fact | blocks | involves | relates | located_at"),
            _c("weight", "float64", "edge weight (e.g. co-presence count)"),
            _c("chapter", "Int64", "chapter from which the edge holds"),
            _S, _E,
        ),
    ),
    "freedom": (
        "one chapter of the constraint space: how many open threads can still resolve",
        (
            _c("chapter", "Int64", "chapter index"),
            _c("open_threads", "Int64", "threads open at the end of the chapter"),
            _c("unblocked", "Int64", "open threads with an unblocked path to resolution"),
            _c("freedom", "float64", "unblocked / open (1 when nothing is open)"),
            _c("blocked", "string", "'; '-separated blocked paths (thread <- fact)"),
            _S, _E,
        ),
    ),
    "echoes": (
        "one echo: a phrase or motif at source span repeated at target span",
        (
            _c("echo_id", "Int64", "sequential echo index"),
            _c("phrase", "string", "the repeated phrase or motif word"),
            _c("kind", "string", "phrase | motif"),
            _c("level", "string", "sentence | paragraph | scene | chapter | act: the "
               "smallest unit holding both ends"),
            _c("similarity", "float64", "0..1 content-word overlap of the two sentences"),
            _S, _E,
            _c("target_start", "Int64", "start of the echoing span"),
            _c("target_end", "Int64", "end of the echoing span"),
        ),
    ),
    "voice": (
        "one character's voice fingerprint from attributed dialogue",
        (
            _c("character_id", "string", "character"),
            _c("name", "string", "character name"),
            _c("quotes", "Int64", "attributed quotes used"),
            _c("words", "Int64", "words of attributed dialogue"),
            _c("mean_sentence_len", "float64", "words per sentence"),
            _c("mean_word_len", "float64", "characters per word"),
            _c("contraction_rate", "float64", "contractions per word"),
            _c("question_rate", "float64", "'?' per sentence"),
            _c("exclaim_rate", "float64", "'!' per sentence"),
            _c("comma_rate", "float64", "commas per word"),
            _c("type_token", "float64", "distinct words / words (first 500 words)"),
            _c("function_words", "object", "dict word -> relative frequency"),
            _c("nearest", "string", "character_id of the closest other voice"),
            _c("delta_nearest", "float64", "Burrows-Delta-like distance to it"),
            _S, _E,
        ),
    ),
    "relationships": (
        "one pair of characters who share scenes or address each other",
        (
            _c("source", "string", "character_id"),
            _c("target", "string", "character_id"),
            _c("copresence", "Int64", "scenes where both are named"),
            _c("addresses", "Int64", "quotes of one addressed to the other"),
            _c("sentiment", "float64", "mean valence (-1..1) of sentences naming both"),
            _c("first_chapter", "Int64", "first shared chapter"),
            _S, _E,
        ),
    ),
    "engagement": (
        "one scene or chapter with its engagement measures",
        (
            _c("level", "string", "scene | chapter"),
            _c("segment", "Int64", "the scene index on scene rows, the chapter index on "
               "chapter rows"),
            _c("chapter", "Int64", "chapter index"),
            _S, _E,
            _c("words", "Int64", "words in the unit"),
            _c("tension", "float64", "0..1 tension (threat/conflict cues, negation, '!')"),
            _c("curiosity", "float64", "0..1 (questions, open threads)"),
            _c("valence", "float64", "-1..1 mean emotional valence"),
            _c("arousal", "float64", "0..1 mean emotional arousal"),
            _c("pace", "float64", "0..1 (short sentences, dialogue share)"),
            _c("dialogue_share", "float64", "share of characters inside quotes"),
            _c("threads_opened", "Int64", "threads opened in the unit"),
            _c("threads_reinforced", "Int64", "open threads touched again"),
            _c("threads_resolved", "Int64", "threads answered"),
            _c("threads_abandoned", "Int64", "threads last touched here and never answered"),
            _c("open_threads", "Int64", "threads open at the end of the unit"),
        ),
    ),
}


_SCHEMA = Schema(TABLES, "tracker table", require_spans=False)
columns = _SCHEMA.columns
empty = _SCHEMA.empty
coerce = _SCHEMA.coerce
validate = _SCHEMA.validate
describe = _SCHEMA.describe
