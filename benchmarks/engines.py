"""Engine benchmark: tokens/s of each engine on the bundled model, and the overhead of
``eng.chat`` over a raw ``llama_cpp.Llama.create_chat_completion`` call.

Run::

    .venv/bin/python benchmarks/engines.py [--rounds 7] [--tokens 64]

Everything is measured in this one run, interleaved, and reported as medians and
ratios (these machines are noisy; absolute numbers move, ratios much less).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

MSGS = [{"role": "user", "content": "Tell a short story about a lighthouse keeper and a storm."}]


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def overhead(eng, rounds: int, tokens: int) -> dict:
    """Median ratio of eng.chat time to the raw llama.cpp call with identical parameters."""
    args = dict(temperature=0.0, top_p=1.0, top_k=0, min_p=0.0, stop=[], seed=1, max_tokens=tokens,
                presence_penalty=0.0, frequency_penalty=0.0, repeat_penalty=1.0, logit_bias=None)
    eng.chat(MSGS, max_tokens=4)  # warm-up
    ratios, raw_times, ours_times = [], [], []
    for i in range(rounds):
        pair = [("raw", lambda: eng.llm.create_chat_completion(MSGS, **args)),
                ("ours", lambda: eng.chat(MSGS, max_tokens=tokens, temperature=0, seed=1))]
        if i % 2:
            pair.reverse()  # alternate the order so drift does not favour one side
        times = {}
        for name, fn in pair:
            times[name], out = _timed(fn)
        raw_times.append(times["raw"])
        ours_times.append(times["ours"])
        ratios.append(times["ours"] / times["raw"])
    return {"raw_s": statistics.median(raw_times), "chat_s": statistics.median(ours_times),
            "ratio": statistics.median(ratios)}


def tokens_per_second(eng, rounds: int, tokens: int) -> float:
    """Median decode throughput (completion tokens / wall time) of eng.chat."""
    eng.chat(MSGS, max_tokens=4, temperature=0)
    rates = []
    for _ in range(rounds):
        dt, out = _timed(lambda: eng.chat(MSGS, max_tokens=tokens, temperature=0,
                                          stop=None))
        rates.append(out["usage"]["completion_tokens"] / dt)
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--skip-torch", action="store_true", help="only the llama.cpp engine")
    opts = parser.parse_args()

    import shimmy_lab as sl

    rows = []
    eng = sl.load_engine()
    o = overhead(eng, opts.rounds, opts.tokens)
    rows.append(("llama_cpp", tokens_per_second(eng, opts.rounds, opts.tokens)))
    eng.close()
    if not opts.skip_torch:
        with tempfile.TemporaryDirectory() as tmp:
            path = sl.convert(out_dir=Path(tmp) / "smollm2")
            for name in ("transformers", "safetensors"):
                e = sl.load_engine(path, engine=name)
                rows.append((name, tokens_per_second(e, max(3, opts.rounds // 2), opts.tokens)))
                e.close()
    print(f"# engines benchmark: bundled SmolLM2-135M-Instruct, {opts.tokens} tokens, "
          f"{opts.rounds} rounds, medians")
    print(f"{'engine':<14}{'tokens/s':>10}{'vs llama_cpp':>14}")
    base = rows[0][1]
    for name, rate in rows:
        print(f"{name:<14}{rate:>10.1f}{rate / base:>13.2f}x")
    print()
    print(f"overhead of eng.chat over raw Llama.create_chat_completion: "
          f"raw {o['raw_s'] * 1000:.1f} ms, eng.chat {o['chat_s'] * 1000:.1f} ms, "
          f"median ratio {o['ratio']:.3f} (goal <= 1.03)")


if __name__ == "__main__":
    main()
