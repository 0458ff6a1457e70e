"""Write a checkpoint directory with random weights of given tensor shapes (issue 6's device benchmark).

Usage: python3 scripts/device/random_model.py SRC DEST
  SRC holds config.json, tokenizer.json and shapes.json ({name: {dtype, shape}}, written by
  scripts/device/prep.sh from the real checkpoint's safetensors header); DEST receives
  config.json, tokenizer.json and model.safetensors with the same names, shapes and dtypes:
  LayerNorm weights 1, biases 0, integer tensors (position ids) 0..n, every other float tensor
  N(0, 0.02²) with seed 0. Needs numpy only (the safetensors file is written here: an 8-byte
  little-endian header length, the JSON header, the raw little-endian data). Only for timing:
  the values are not a trained model's.
"""
import json
import shutil
import struct
import sys
from pathlib import Path

import numpy as np

DTYPES = {np.dtype(np.float32): "F32", np.dtype(np.int64): "I64"}


def save_file(tensors, path, metadata):
    """Write `tensors` ({name: array}) in the safetensors format."""
    header, offset = {"__metadata__": metadata}, 0
    for name, t in tensors.items():
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + t.nbytes]}
        offset += t.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for t in tensors.values():
            f.write(np.ascontiguousarray(t).astype(t.dtype.newbyteorder("<"), copy=False).tobytes())


def tensor(name, dtype, shape, rng):
    if dtype == "I64":
        return np.broadcast_to(np.arange(shape[-1], dtype=np.int64), shape).copy()
    if dtype != "F32":
        raise SystemExit(f"random_model.py: error: {name}: dtype {dtype} not supported")
    if name.endswith("LayerNorm.weight"):
        return np.ones(shape, np.float32)
    if name.endswith("bias"):
        return np.zeros(shape, np.float32)
    return (0.02 * rng.standard_normal(shape)).astype(np.float32)


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    src, dest = Path(sys.argv[1]), Path(sys.argv[2])
    shapes = json.loads((src / "shapes.json").read_text())
    rng = np.random.default_rng(0)
    tensors = {name: tensor(name, spec["dtype"], spec["shape"], rng) for name, spec in shapes.items()}
    dest.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(dest / "model.safetensors"), metadata={"format": "pt"})
    for name in ("config.json", "tokenizer.json"):
        shutil.copy(src / name, dest / name)
    print(f"{dest}: {len(tensors)} tensors, {sum(t.size for t in tensors.values()) / 1e6:.1f} M values")


if __name__ == "__main__":
    main()
