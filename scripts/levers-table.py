#!/usr/bin/env python3
"""The table of scripts/gen-levers.sh: per calibration set, the share of de-normalised pixels
outside [0, 1], label fidelity, the data-quality range ratios (geometric means over the
quantization points, against real images) and top-1 % per method × setting, from the
compare.json files of one seed (sets that are folders also read their samples.safetensors and meta.json)."""
import importlib.util
import json
import math
import os
import struct
import sys

import numpy as np

_spec = importlib.util.spec_from_file_location("model_config", os.path.join(os.path.dirname(__file__), "model-config.py"))
model_config = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(model_config)


def images(path: str) -> np.ndarray:
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        t = header["images"]
        if t["dtype"] != "F32":
            sys.exit(f"{path}: 'images' is {t['dtype']}, expected F32")
        a, b = t["data_offsets"]
        f.seek(8 + n + a)
        return np.frombuffer(f.read(b - a), dtype="<f4").reshape(t["shape"])


def gmean(v):
    return math.exp(sum(math.log(x) for x in v) / len(v))


def main(model, paths):
    cfg = model_config.load_config(model)
    mean, std = cfg["normalize_mean"], cfg["normalize_std"]
    docs = []
    for p in paths:
        with open(p) as f:
            docs.append(json.load(f))
    d = docs[0]
    if len({x["fp_top1"] for x in docs}) > 1:
        sys.exit("FP top-1 differs between the compare.json files: not runs of one model and test split")
    quality = {s["source"]: s for x in docs for s in x.get("data_quality", {}).get("sets", [])}
    columns, cells, sources = [], {}, []
    for r in (r for x in docs for r in x["runs"]):
        col = f'{r["method"]} {r["setting"]}'
        if col not in columns:
            columns.append(col)
        if r["calib_source"] not in sources:
            sources.append(r["calib_source"])
        cells[(r["calib_source"], col)] = 100 * r["top1"]
    reference = d.get("data_quality", {}).get("reference", "")
    print(f'FP top-1 {100 * d["fp_top1"]:.2f} % on {d["test_samples"]} test images; ranges and outlier rates '
          f'against {reference or "no reference"}\n')
    print("| calibration | pixels outside [0, 1] | label fidelity | p99.9 ratio | max ratio | outlier rate | "
          + " | ".join(columns) + " |")
    print("|---|" + "---:|" * (5 + len(columns)))
    for src in sources:
        outside = fidelity = ""
        if os.path.isdir(src):
            px = images(os.path.join(src, "samples.safetensors")) * std + mean
            outside = f"{100 * np.mean((px < 0) | (px > 1)):.1f} %"
            with open(os.path.join(src, "meta.json")) as f:
                fidelity = f'{100 * json.load(f)["label_fidelity"]:.1f} %'
        q = quality.get(src)
        ranges = (f'{gmean(q["p999_ratio"]):.3f} | {gmean(q["max_ratio"]):.3f} | {100 * np.mean(q["outlier_rate"]):.2f} %'
                  if q else " | | ")
        name = src.rstrip("/").split("/")[-1] if os.path.isdir(src) else src
        row = [f"{cells[(src, c)]:.2f}" if (src, c) in cells else "" for c in columns]
        print(f"| {name} | {outside} | {fidelity} | {ranges} | " + " | ".join(row) + " |")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: levers-table.py MODEL compare.json [...]")
    main(sys.argv[1], sys.argv[2:])
