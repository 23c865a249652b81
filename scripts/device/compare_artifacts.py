#!/usr/bin/env python3
"""Compares two quantized artifacts (safetensors) tensor by tensor and prints one JSON object:
which tensors are byte-identical, and for float tensors the largest relative difference.
Used by scripts/device/gpu-acceptance.sh to bound a mixed CPU+GPU cluster run against a CPU-only run."""
import json, struct, sys
import numpy as np

DT = {"F32": np.float32, "F64": np.float64, "I32": np.int32, "I64": np.int64, "U8": np.uint8, "I8": np.int8, "F16": np.float16}

def load(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        out[name] = (info["dtype"], raw[base + a:base + b], info["shape"])
    return out

a, b = load(sys.argv[1]), load(sys.argv[2])
same, differ = [], []
for name in sorted(set(a) | set(b)):
    if name not in a or name not in b:
        differ.append({"tensor": name, "missing_in": "first" if name not in a else "second"})
        continue
    (da, ba, sa), (db, bb, sb) = a[name], b[name]
    if ba == bb:
        same.append(name)
        continue
    entry = {"tensor": name, "dtype": da}
    if da in DT and da == db and sa == sb:
        x, y = np.frombuffer(ba, DT[da]).astype(np.float64), np.frombuffer(bb, DT[db]).astype(np.float64)
        d = np.abs(x - y)
        entry.update(elements=int(x.size), elements_differing=int((d > 0).sum()),
                     max_abs=float(d.max()), max_rel=float((d / np.maximum(np.abs(y), 1e-12)).max()))
    differ.append(entry)
print(json.dumps({"tensors": len(set(a) | set(b)), "identical": len(same), "differing": differ}, indent=1))
