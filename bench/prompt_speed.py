"""How fast llama.cpp reads a prompt: the pinned model file against its local conversion.

    python bench/prompt_speed.py                     # the default preset, 7 rounds
    python bench/prompt_speed.py --rounds 11 --tokens 700 --threads 2

The time to the first answer word is mostly llama.cpp reading the prompt (~700 tokens: three
sources and the question). The bundled SmolLM2 is published as Q4_1, a type llama.cpp's fast
CPU matrix kernels do not take; the preset's ``run_as`` conversions (BF16 where the CPU has
bfloat16 arithmetic, else Q8_0, made once by llama.cpp's own quantizer, generation/convert.py)
do. Every file is loaded in this process (each conversion is made whatever this CPU reports)
and reads the same prompt (the start of docs/architecture.md) in turn, the order reversed
every round, from an empty context every time; reported: median and min seconds per file,
tokens per second, and the ratio of the medians (pinned / conversion: how many times faster
the conversion reads). Also each file's greedy answer to a handbook prompt (a tiny model's
greedy text can differ on a rounding; bench/eval_answers.py --model-path measures whether the
answers are as good). Writes JSON (default bench/results/prompt-speed.json).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from config.settings import load_settings  # noqa: E402
from generation.convert import runtime_file  # noqa: E402
from generation.models import hash_cache, resolve_local_model  # noqa: E402

QUESTION = ("Sources:\n[1] Meals and per diem. Employees travelling on company business receive "
            "a daily meal allowance of EUR 45 for domestic trips and EUR 60 for international "
            "trips. Receipts are not required for the allowance.\n\nQuestion: What is the daily "
            "meal allowance?")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--tokens", type=int, default=700, help="prompt length in tokens")
    parser.add_argument("--threads", type=int, default=None, help="llama.cpp threads (all)")
    parser.add_argument("--types", type=lambda v: v.split(","), default=None,
                        help="conversions to compare with the pinned file (default: all the "
                        "preset names, whatever this CPU reports)")
    parser.add_argument("--out", type=Path, default=REPO / "bench/results/prompt-speed.json")
    args = parser.parse_args(argv)

    from llama_cpp import Llama

    settings = load_settings()
    local = resolve_local_model(settings.generation, settings.gguf_dir)
    with tempfile.TemporaryDirectory() as tmp:
        files = {"pinned": local.path}
        for run_as in local.preset.run_as if local.preset is not None else ():
            made = runtime_file(local, hash_cache(Path(tmp)), Path(tmp),
                                features=frozenset([run_as.requires or ""]))
            if made.run_as is not None and (args.types is None or made.run_as.type in args.types):
                files[made.run_as.type] = made.path
        if len(files) == 1:
            print("the preset names no conversion (run_as), or none could be made")
            return 1
        models = {k: Llama(model_path=str(p), n_ctx=max(2048, args.tokens + 64),
                           n_threads=args.threads, n_threads_batch=args.threads,
                           chat_format=local.chat_template, verbose=False)
                  for k, p in files.items()}
        text = (REPO / "docs/architecture.md").read_text(encoding="utf-8")
        tokens = models["pinned"].tokenize(text.encode("utf-8"))[:args.tokens]
        times: dict[str, list[float]] = {k: [] for k in models}
        for r in range(args.rounds):
            order = list(models) if r % 2 == 0 else list(reversed(models))
            for name in order:
                model = models[name]
                model.reset()
                t0 = time.perf_counter()
                model.eval(tokens)
                times[name].append(time.perf_counter() - t0)
        answers = {}
        for name, model in models.items():
            model.reset()
            reply = model.create_chat_completion(
                messages=[{"role": "user", "content": QUESTION}], max_tokens=40,
                temperature=0.0, seed=0)
            answers[name] = reply["choices"][0]["message"]["content"]
    med = {k: statistics.median(v) for k, v in times.items()}
    result = {
        "tokens": len(tokens), "rounds": args.rounds, "threads": args.threads,
        "files": {k: str(p) for k, p in files.items()},
        "seconds": times, "median_s": med,
        "tokens_per_s": {k: len(tokens) / v for k, v in med.items()},
        "speedup": {k: med["pinned"] / v for k, v in med.items() if k != "pinned"},
        "answers": answers,
    }
    for name in models:
        ratio = f"{med['pinned'] / med[name]:.2f}x the pinned file's speed"
        print(f"{name:6s} median {med[name]:.3f} s  min {min(times[name]):.3f} s  "
              f"{len(tokens) / med[name]:.0f} tokens/s  {ratio}  ({files[name].name})")
    for name, answer in answers.items():
        print(f"{name}: {answer!r}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
