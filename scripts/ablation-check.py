#!/usr/bin/env python3
"""The acceptance lines of issue #15 ("OuroMamba-Gen that earns its place"), checked on the
compare.json files of scripts/gen-ablation.sh for one model (one or more seeds):

  python3 scripts/ablation-check.py runs/ablation-d128/seed*/compare/*/compare.json

"Beyond the seed spread" means: the two means differ by more than the sum of their sample
standard deviations (with one seed there is no spread, and the script says so). Prints one line
per check with the numbers it used, and exits 1 when a check fails."""
import importlib.util
import os
import statistics
import sys

# The cells come from ablation-table.py's loader (a hyphenated file, so loaded by path, as
# levers-table.py loads model-config.py).
_spec = importlib.util.spec_from_file_location("ablation_table", os.path.join(os.path.dirname(__file__), "ablation-table.py"))
ablation_table = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ablation_table)

STATIC = ["static-minmax", "static-per-token", "static-outlier-list"]


class Cell:
    def __init__(self, values):
        self.values = values
        self.mean = statistics.mean(values)
        self.std = statistics.stdev(values) if len(values) > 1 else 0.0

    def __str__(self):
        return f"{self.mean:.2f} ± {self.std:.2f} (n={len(self.values)})"


def main(paths):
    if not paths:
        sys.exit(__doc__)
    cells = ablation_table.load(paths)[0]
    real_name = next((s for s, _ in cells if s.startswith("real:")), None)
    noise_name = next((s for s, _ in cells if s.startswith("noise:")), None)
    if real_name is None or noise_name is None:
        sys.exit("ablation-check: the files hold no real:N or no noise:N source")

    def cell(src, method, setting):
        v = cells.get((src, (method, setting)))
        return Cell(v) if v else None

    failures, lines = 0, []

    def report(ok, text, label=None):
        nonlocal failures
        if ok is False:
            failures += 1
        lines.append((label or ("met    " if ok else "MISSED ")) + text)

    def beyond(a, b):
        return abs(a.mean - b.mean) > a.std + b.std

    # 1. The model can judge data: real and noise differ by >= 1 pt beyond the spread at W4A4.
    judged = []
    for m in STATIC + ["ouromamba"]:
        r, n = cell(real_name, m, "w4a4"), cell(noise_name, m, "w4a4")
        if r and n and abs(r.mean - n.mean) >= 1 and beyond(r, n):
            judged.append(f"{m} ({r.mean - n.mean:+.2f})")
    report(bool(judged), "real and noise differ by >= 1 pt beyond the spread at w4a4 under: "
           + (", ".join(judged) or "no method"))

    # 2. Synthetic (ouromamba generator) matches real.
    syn = "ouromamba"
    for setting in ["w4a4", "w4a8"]:
        r, s = cell(real_name, "ouromamba", setting), cell(syn, "ouromamba", setting)
        if r and s:
            d = s.mean - r.mean
            text = f"ouromamba {setting}: syn {s} vs real {r}: {d:+.2f} (within 0.3)"
            if d > 0.3:
                # Outside the letter of "within", but above real: not a failure.
                report(None, text, "above  ")
            else:
                report(d >= -0.3, text)
    for m in STATIC:
        r, s = cell(real_name, m, "w4a4"), cell(syn, m, "w4a4")
        if r and s:
            report(s.mean >= r.mean - 0.5, f"{m} w4a4: syn {s} vs real {r}: {s.mean - r.mean:+.2f} (within 0.5 or above)")

    # 3. Synthetic beats noise wherever real does (beyond the spread).
    for m in STATIC + ["ouromamba"]:
        for setting in ["w4a4", "w4a8"]:
            r, n, s = cell(real_name, m, setting), cell(noise_name, m, setting), cell(syn, m, setting)
            if not (r and n and s):
                continue
            if min(len(r.values), len(n.values)) < 2:
                if r.mean > n.mean:
                    report(None, f"{m} {setting}: real {r} above noise {n} (syn {s}), but one seed has no spread", "n/a    ")
            elif r.mean > n.mean and beyond(r, n):
                report(s.mean > n.mean, f"{m} {setting}: real {r} beats noise {n}; syn {s}")
    # 4. The generators are ordered under the ouromamba method at W4A4.
    g = cell(syn, "ouromamba", "w4a4")
    for other in ["output-only", "pse"]:
        o = cell(other, "ouromamba", "w4a4")
        if g and o:
            report(g.mean >= o.mean, f"ouromamba w4a4: generator ouromamba {g} vs {other} {o}: {g.mean - o.mean:+.2f}")
    seeds = max(len(v) for v in cells.values())
    print(f"{seeds} seed(s); real = {real_name}, noise = {noise_name}; 'beyond the spread' = the means differ by more than the two stds together")
    for line in lines:
        print(line)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main(sys.argv[1:])
