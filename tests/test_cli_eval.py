"""``shimmy-lab eval`` commands through typer's runner."""

import pandas as pd
from typer.testing import CliRunner

from shimmy_lab.cli import app

STORY = 'CHAPTER I\n\n"Where is the key?" asked Anna.\n\n"In the well," said Tom.\n'


def test_eval_run_writes_results_and_reports_errors(tmp_path):
    (tmp_path / "a.txt").write_text(STORY)
    (tmp_path / "bad.txt").write_bytes(b"\x00\x00")
    out = tmp_path / "out" / "results.csv"
    res = CliRunner().invoke(app, ["eval", "run", str(tmp_path), "--out", str(out), "--story-only",
                                   "--insights", str(tmp_path / "ins.parquet")])
    assert res.exit_code == 0, res.output
    assert "2 works (1 with errors)" in res.output and "binary file" in res.output
    df = pd.read_csv(out)
    assert set(df["work_id"]) == {"a", "bad"} and not list(out.parent.glob("*.tmp"))


def test_eval_run_rejects_unknown_format(tmp_path):
    (tmp_path / "a.txt").write_text(STORY)
    res = CliRunner().invoke(app, ["eval", "run", str(tmp_path), "--out", str(tmp_path / "x.xlsx"), "--story-only"])
    assert res.exit_code != 0 and not (tmp_path / "x.xlsx").exists()
