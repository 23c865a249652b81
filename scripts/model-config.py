#!/usr/bin/env python3
"""Prints one key of a checkpoint's Vision Mamba config: from CHECKPOINT's `.config.json`
beside it, else from the `config` entry of its safetensors metadata.

    scripts/model-config.py models/vim-fashion.safetensors depth
"""
import json
import os
import struct
import sys


def load_config(path: str) -> dict:
    beside = os.path.splitext(path)[0] + ".config.json"
    if os.path.exists(beside):
        with open(beside) as f:
            return json.load(f)
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        meta = json.loads(f.read(n)).get("__metadata__", {})
    if "config" not in meta:
        sys.exit(f"{path}: no {beside} and no 'config' in the safetensors metadata")
    return json.loads(meta["config"])


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: model-config.py CHECKPOINT KEY")
    cfg = load_config(sys.argv[1])
    if sys.argv[2] not in cfg:
        sys.exit(f"{sys.argv[1]}: config has no key '{sys.argv[2]}'")
    print(cfg[sys.argv[2]])
