"""Fit the abstention model (retrieval.abstention) on the tune halves, check it on the test halves.

    python bench/calibrate_abstention.py                 # every set under bench/data
    python bench/calibrate_abstention.py --sets curl_faq,zsh_faq --weight 2
    python bench/calibrate_abstention.py --ingested '/tmp/ev/{set}'   # reuse ingested sets

Each set is ingested with the configured settings (or, with ``--ingested``, read from data
dirs that already hold it); every question is searched and judged by retrieval.evidence, which
gives its three measurements (best cosine, IDF-weighted term coverage of the best passage, "a
question term occurs nowhere in the index"). A logistic regression (scikit-learn) is fitted on
the tune questions of all sets together, unanswerable questions weighted ``--weight`` times
(there are fewer of them), and the resulting rule is reported per set on both halves: the
share of answerable questions answered and the share of unanswerable ones abstained on, with
the settings to paste into config/settings.yaml.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _measure(stack: Any, evalset: Any) -> list[dict[str, Any]]:
    rows = []
    for q in evalset.questions(None):
        hits = stack.retriever.search(q.question, "eval", 10)
        ev = stack.retriever.assess(q.question, hits)
        rows.append({"set": evalset.name, "id": q.id, "split": q.split,
                     "answerable": q.answerable, "top": ev.top_score or 0.0,
                     "coverage": ev.coverage, "unknown": float(bool(ev.unknown_terms))})
    return rows


def collect(sets: list[str] | None, ingested: str | None = None) -> list[dict[str, Any]]:
    """Measurements of every question of every set (both halves). With ``ingested`` (a data
    dir pattern with ``{set}``, holding collection ``eval``) nothing is ingested again."""
    from bench.harness import discover_sets
    from config import configure_offline, load_settings
    from ingest.pipeline import expand_paths
    from ingest.stack import build_ingestor
    from retrieval.stack import build_retrieval

    configure_offline()
    rows = []
    for evalset in discover_sets(names=sets):
        if ingested:
            stack = build_retrieval(load_settings(
                overrides={"data_dir": ingested.format(set=evalset.name)}))
            try:
                rows += _measure(stack, evalset)
            finally:
                stack.close()
            continue
        with tempfile.TemporaryDirectory(prefix="enclave-calib-") as tmp:
            stack = build_retrieval(load_settings(overrides={"data_dir": tmp}))
            try:
                build_ingestor(stack).ingest_paths(expand_paths([evalset.corpus]), "eval")
                rows += _measure(stack, evalset)
            finally:
                stack.close()
        print(f"{evalset.name}: measured", file=sys.stderr, flush=True)
    return rows


def rates(rows: list[dict[str, Any]], abstains: Any) -> dict[str, tuple[float, float]]:
    """Per set: (share of answerable answered, share of unanswerable abstained)."""
    out = {}
    for name in sorted({r["set"] for r in rows}):
        ans = [r for r in rows if r["set"] == name and r["answerable"]]
        una = [r for r in rows if r["set"] == name and not r["answerable"]]
        out[name] = (sum(not abstains(r) for r in ans) / max(1, len(ans)),
                     sum(abstains(r) for r in una) / max(1, len(una)))
    return out


def main(argv: list[str] | None = None) -> int:
    import math

    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from config import load_settings

    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", default=None, help="comma-separated set names")
    parser.add_argument("--weight", type=float, default=2.0,
                        help="weight of an unanswerable question in the fit")
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--ingested", default=None,
                        help="reuse data dirs holding each set as collection 'eval', e.g. "
                             "/tmp/ev/{set} (default: ingest each set into a temporary dir)")
    parser.add_argument("--rows", type=Path, default=None,
                        help="reuse measurements saved by an earlier run (JSON)")
    parser.add_argument("--out", type=Path,
                        default=REPO / "bench" / "results" / "abstention.json")
    args = parser.parse_args(argv)
    saved = json.loads(args.rows.read_text()) if args.rows else None
    rows = ((saved["rows"] if isinstance(saved, dict) else saved) if saved is not None
            else collect(args.sets.split(",") if args.sets else None, args.ingested))
    tune = [r for r in rows if r["split"] == "tune"]
    features = ("top", "coverage", "unknown")
    x = np.array([[r[f] for f in features] for r in tune])
    y = np.array([0 if r["answerable"] else 1 for r in tune])
    model = LogisticRegression().fit(x, y, sample_weight=np.where(y == 1, args.weight, 1.0))
    w = dict(zip(features, model.coef_[0].tolist(), strict=True))
    b = float(model.intercept_[0])
    floor = load_settings().retrieval.min_score

    def abstains(r: dict[str, Any]) -> bool:
        z = b + sum(w[f] * r[f] for f in features)
        return r["top"] < floor or 1 / (1 + math.exp(-z)) >= args.threshold

    report: dict[str, Any] = {"weights": {"intercept": round(b, 3),
                                          "w_top_score": round(w["top"], 3),
                                          "w_coverage": round(w["coverage"], 3),
                                          "w_unknown": round(w["unknown"], 3),
                                          "threshold": args.threshold},
                              "floor_only": {}, "model": {}}
    for half in ("tune", "test"):
        part = [r for r in rows if r["split"] == half]
        report["model"][half] = rates(part, abstains)
        report["floor_only"][half] = rates(part, lambda r: r["top"] < 0.35)
    print("retrieval.abstention:", json.dumps(report["weights"]))
    for label in ("model", "floor_only"):
        for half in ("tune", "test"):
            cells = "  ".join(f"{name}: answered {a:.2f}, abstained {u:.2f}"
                              for name, (a, u) in report[label][half].items())
            print(f"{label:10s} {half}: {cells}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({**report, "rows": rows}, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
