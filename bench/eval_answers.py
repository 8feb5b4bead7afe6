"""Answer evaluation: generative vs extractive vs auto on the sample handbook questions.

    python bench/eval_answers.py                  # default model and settings
    python bench/eval_answers.py --out bench/results/answers-handbook.json

The sample corpus (scripts/make_sample_corpus.py) is written and ingested into a throwaway
data dir through the real pipeline. Each question is asked once with the configured model
(greedy-ish, fixed seed); the raw generated text is then finished under each answer policy
(the same model output, so the rows differ only by what happens after generation):

- ``generative`` / ``generative+drop``: the model's answer, unsupported sentences flagged /
  dropped;
- ``extractive``: quoted passage sentences, no model call;
- ``auto`` (the default): generative, replaced by extractive when fewer than
  ``generation.auto_min_supported`` of the sentences are supported.

Metrics (over all questions unless said otherwise):

- *correct*: the gold answer string occurs in the answer (case-insensitive);
- *token F1*: word-level F1 of the answer (citation markers removed) against the gold string;
- *citation precision*: share of citations whose passage is from the gold document and
  contains the gold answer string;
- *flagged*: share of answer sentences marked unsupported (answers that abstained excluded);
- *ms*: mean time to the finished answer (the extractive row never calls the model).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from config import configure_offline, load_settings  # noqa: E402

POLICIES = {
    "generative": {"mode": "generative", "unsupported": "flag"},
    "generative+drop": {"mode": "generative", "unsupported": "drop"},
    "extractive": {"mode": "extractive"},
    "auto": {"mode": "auto", "unsupported": "flag"},
}
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_MARKER = re.compile(r"\[\d{1,2}\]")


def token_f1(answer: str, gold: str) -> float:
    """Word-level F1 (SQuAD style, lower-cased alphanumeric tokens)."""
    pred = _TOKEN.findall(_MARKER.sub(" ", answer).lower())
    ref = _TOKEN.findall(gold.lower())
    common = sum((Counter(pred) & Counter(ref)).values())
    if not pred or not ref or not common:
        return 0.0
    p, r = common / len(pred), common / len(ref)
    return 2 * p * r / (p + r)


def score(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Aggregate metrics of one policy."""
    n = len(rows)
    cits = [c for r in rows for c in r["citations"]]
    sentences = [s for r in rows if not r["abstained"] for s in r["sentences"]]
    return {
        "questions": n,
        "answered": sum(not r["abstained"] for r in rows) / n,
        "correct": sum(r["correct"] for r in rows) / n,
        "token_f1": sum(r["f1"] for r in rows) / n,
        "citation_precision": (sum(c["correct"] for c in cits) / len(cits)) if cits else 0.0,
        "citations_per_answer": len(cits) / n,
        "flagged": (sum(not s["supported"] for s in sentences) / len(sentences)
                    if sentences else 0.0),
        "extractive_share": sum(r["mode"] == "extractive" for r in rows) / n,
        "mean_ms": sum(r["ms"] for r in rows) / n,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" /
                        "answers-handbook.json")
    parser.add_argument("--limit", type=int, default=None, help="first N questions only")
    args = parser.parse_args(argv)
    configure_offline()
    from make_sample_corpus import QUESTIONS

    from generation.answerer import Answerer
    from generation.events import SourcesEvent, TokenEvent
    from generation.stack import build_generator
    from ingest.stack import build_ingestor
    from retrieval.stack import build_retrieval

    questions = QUESTIONS[: args.limit] if args.limit else QUESTIONS
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    with tempfile.TemporaryDirectory(prefix="enclave-answers-") as tmp:
        corpus, data = Path(tmp) / "corpus", Path(tmp) / "data"
        subprocess.run([sys.executable, str(REPO / "scripts" / "make_sample_corpus.py"),
                        str(corpus)], check=True, capture_output=True)
        base = load_settings(overrides={"data_dir": str(data)})
        stack = build_retrieval(base)
        build_ingestor(stack).ingest_paths([(p, p.name) for p in sorted(corpus.iterdir())],
                                           "handbook")
        generator = build_generator(base)
        answerers = {
            name: Answerer(load_settings(overrides={"data_dir": str(data),
                                                    "generation": policy}),
                           stack.retriever, generator, stack.embedder)
            for name, policy in POLICIES.items()
        }
        results: dict[str, list[dict[str, Any]]] = {name: [] for name in POLICIES}
        raw_outputs = []
        for i, q in enumerate(questions, 1):
            # one model call per question; its raw text is finished under every policy
            t0 = time.perf_counter()
            events = list(answerers["generative"].stream(q["question"], "handbook"))
            gen_s = time.perf_counter() - t0
            raw = "".join(e.text for e in events if isinstance(e, TokenEvent))
            sources = events[0].sources if isinstance(events[0], SourcesEvent) else []
            raw_outputs.append({"question": q["question"], "raw": raw})
            for name, answerer in answerers.items():
                t1 = time.perf_counter()
                if name == "extractive":  # retrieval + quoting, no model call
                    answer = answerer.ask(q["question"], "handbook").to_dict()
                    ms = 1000 * (time.perf_counter() - t1)
                else:
                    answer = answerer.finish(q["question"], raw, sources).to_dict()
                    ms = 1000 * (gen_s + time.perf_counter() - t1)
                text = answer["answer"]
                results[name].append({
                    "question": q["question"], "gold": q["answer"], "document": q["document"],
                    "answer": text, "mode": answer["mode"], "abstained": answer["abstained"],
                    "correct": q["answer"].lower() in text.lower(),
                    "f1": token_f1(text, q["answer"]),
                    "citations": [
                        {"n": c["n"], "document": c["document"],
                         "correct": c["document"] == q["document"]
                         and q["answer"].lower() in c["text"].lower()}
                        for c in answer["citations"]
                    ],
                    "sentences": [{"supported": s["supported"], "text": s["text"]}
                                  for s in answer["sentences"]],
                    "ms": ms,
                })
            log(f"[{i}/{len(questions)}] {gen_s:.1f}s {q['question']}")
        stack.close()

    table = {name: score(rows) for name, rows in results.items()}
    header = ("| policy | answered | correct (contains gold) | token F1 | citation precision "
              "| citations / answer | flagged sentences | extractive | mean ms |")
    lines = [header, "|---|---|---|---|---|---|---|---|---|"]
    for name, m in table.items():
        lines.append(
            f"| {name} | {m['answered']:.2f} | {m['correct']:.2f} | {m['token_f1']:.2f} | "
            f"{m['citation_precision']:.2f} | {m['citations_per_answer']:.2f} | "
            f"{m['flagged']:.2f} | {m['extractive_share']:.2f} | {m['mean_ms']:.0f} |"
        )
    print("\n".join(lines))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"model": generator.model_name, "table": table,
                                    "results": results, "raw": raw_outputs}, indent=1),
                        encoding="utf-8")
    log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
