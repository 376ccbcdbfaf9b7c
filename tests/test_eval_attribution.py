"""End-to-end attribution scoring (shimmy_lab.eval.attribution) on a made-up annotated novel."""

from __future__ import annotations

import pandas as pd

import shimmy_lab as sl
from shimmy_lab.eval import attribution


def _novel(tmp_path, addressees=None):
    paras = ['"I shall go to the town tomorrow," said Mr. Peter Grey.',
             '"Then I shall come with you," said Anna Bell.',
             '"Good," said Peter.',
             'They walked a while in silence by the river and the mill.']
    text = "\n\n".join(paras * 3) + "\n"
    rows, spans = [], []
    for m in __import__("re").finditer(r'"([^"]+)"', text):
        spans.append((m.start(1), m.end(1)))
    speakers = ["Peter Grey", "Anna", "Peter Grey"] * 3
    types = ["Explicit"] * 9
    addressees = addressees or ["[]"] * 9
    for i, ((s, e), spk, t, to) in enumerate(zip(spans, speakers, types, addressees)):
        rows.append({"quoteID": f"Q{i}", "quoteText": text[s:e], "subQuotationList": str([text[s:e]]),
                     "quoteByteSpans": str([[s, e]]), "speaker": spk, "addressees": to,
                     "quoteType": t})
    (tmp_path / "n").mkdir()
    (tmp_path / "n" / "novel_text.txt").write_text(text)
    pd.DataFrame(rows).to_csv(tmp_path / "n" / "quotation_info.csv", index=False)
    pd.DataFrame({"Character ID": [0, 1], "Main Name": ["Peter Grey", "Anna Bell"],
                  "Aliases": ["{'Mr. Peter Grey', 'Peter'}", "{'Anna'}"], "Gender": ["M", "F"],
                  "Category": ["major", "major"]}).to_csv(tmp_path / "n" / "character_info.csv", index=False)
    return tmp_path


def test_name_forms_compare_without_case_spacing_or_title_periods():
    assert attribution.name_form("Mr.  Peter\nGrey") == "mr peter grey" == attribution.name_form("MR Peter Grey")


def test_a_tagged_novel_scores_every_quote_and_character(tmp_path):
    df = attribution.score_corpus(_novel(tmp_path))
    pooled = df.set_index("novel").loc["pooled"]
    assert pooled["quotes"] == 9 and pooled["quote_recall"] == 1.0 and pooled["quote_precision"] == 1.0
    assert pooled["accuracy"] == 1.0 and pooled["explicit"] == 1.0
    assert pooled["characters_found"] == 1.0 and pooled["characters_split"] == 0.0


def test_a_reader_that_names_nobody_scores_zero(tmp_path):
    folder = _novel(tmp_path)

    def mute(text):
        st = sl.Story.from_text(text)
        st.tables["quotes"] = st.quotes.assign(speaker=pd.NA)
        return st

    r = attribution.score_novel(folder / "n", mute)
    assert r["quote_recall"] == 1.0 and not r["quotes"]["correct"].any()


# gold addressees of the nine quotes (Peter, Anna, Peter, ...): names or aliases; [] and a
# name of nobody in the cast are not annotated; quote 5 (Peter's) is said to be to Peter
ADDRESSEES = ["['Anna Bell']", "['Peter']", "[]", "['Anna', 'Peter Grey']", "['Nobody Known']",
              "['Peter Grey']", "[]", "[]", "[]"]


def test_addressees_are_scored_on_the_annotated_quotes(tmp_path):
    folder = _novel(tmp_path, ADDRESSEES)
    nov = attribution.read_novel(folder / "n")
    assert nov["quotes"]["addressees"][3] == ["Anna", "Peter Grey"] and nov["quotes"]["addressees"][2] == []
    r = attribution.score_novel(folder / "n")
    assert r["quotes"]["addressed"].tolist() == [True, True, False, True, False, True, False, False, False]
    assert r["addressee_recall"] == r["addressee_precision"] == 0.75  # 3 of 4 right, 4 given

    def first_unaddressed(text):
        st = sl.Story.from_text(text)
        st.tables["quotes"].loc[0, "addressee"] = pd.NA
        return st

    r = attribution.score_novel(folder / "n", first_unaddressed)
    assert r["addressee_recall"] == 0.5 and r["addressee_precision"] == 2 / 3
    assert r["quotes"]["correct"].all()  # the speakers are scored as before
    pooled = attribution.score_corpus(folder).set_index("novel").loc["pooled"]
    assert pooled["addressee_recall"] == pooled["addressee_precision"] == 0.75


def test_a_novel_without_addressees_scores_none(tmp_path):
    r = attribution.score_novel(_novel(tmp_path) / "n")
    assert not r["quotes"]["addressed"].any()
    assert pd.isna(r["addressee_recall"]) and pd.isna(r["addressee_precision"])
