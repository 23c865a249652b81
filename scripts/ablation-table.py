#!/usr/bin/env python3
"""Mean ± sample std (over seeds) of top-1 per calibration source × method × setting, from the
compare.json files of scripts/gen-ablation.sh (one or several per seed: cells of the same
source, method and setting are the seeds). Sources that are folders are named by their
last path component (the generator); real:N and noise:N keep their names."""
import json
import statistics
import sys
from collections import defaultdict


def source_name(s: str) -> str:
    return s if ":" in s else s.rstrip("/").split("/")[-1]


def load(paths):
    """The top-1 % values of every (source, (method, setting)) cell over the files (one per
    seed), each file's FP top-1, and the sources and columns in first-seen order. Also used by
    ablation-check.py."""
    cells = defaultdict(list)
    sources, columns, fp = [], [], []
    for p in paths:
        with open(p) as f:
            d = json.load(f)
        fp.append(d["fp_top1"])
        for r in d["runs"]:
            src, col = source_name(r["calib_source"]), (r["method"], r["setting"])
            if src not in sources:
                sources.append(src)
            if col not in columns:
                columns.append(col)
            cells[(src, col)].append(100 * r["top1"])
    return cells, sources, columns, fp


def main(paths):
    if not paths:
        sys.exit("usage: ablation-table.py compare.json [...]")
    cells, sources, columns, fp = load(paths)
    seeds = max(len(v) for v in cells.values())
    if len(set(fp)) > 1:
        sys.exit(f"FP top-1 differs between the files ({sorted(set(fp))}): not runs of one model and test split")
    print(f"{seeds} seed(s); FP top-1 {100 * fp[0]:.2f} %; cells: top-1 % mean ± std over seeds\n")
    print("| calibration | " + " | ".join(f"{m} {s}" for m, s in columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for src in sources:
        row = []
        for col in columns:
            v = cells.get((src, col), [])
            if not v:
                row.append("")
            elif len(v) == 1:
                row.append(f"{v[0]:.2f}")
            else:
                row.append(f"{statistics.mean(v):.2f} ± {statistics.stdev(v):.2f}")
        print(f"| {src} | " + " | ".join(row) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
