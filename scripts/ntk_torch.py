#!/usr/bin/env python3
"""Reference empirical NTK of a Hugging Face BERT/RoBERTa sequence classifier with torch.func.

K(x, x') = <grad_theta f(x), grad_theta f(x')> over *all* parameters, f the margin ntkgap
differentiates (src/model/classifier.rs): logit_1 - logit_0 for two labels, logit_1 -
logsumexp(other logits) for more, the single output for one. Computed the way neural-tangents
and the torch.func tutorials do it: per-example gradients by `vmap(grad(f))` over
`functional_call(model, params, example)` (eval mode, float32), then K = J J^T accumulated in
float64 per parameter tensor.

Inputs are encoded exactly like ntkgap (src/tokenize/hf.rs): the directory's tokenizer.json with
padding off and truncation `only_first` at --max-len, so `{"premise", "hypothesis"}` records are
pair-encoded with only the premise ever truncated, `{"text"}` records encoded alone. Examples of
one vmap call are padded to a common length with the attention mask (padding contributes
exactly zero: masked keys get probability 0).

The classification head: --head FILE (safetensors, e.g. tests/data/minilm_head_seed0.safetensors
or the `<stem>.head.safetensors` that `ntkgap forward` writes) replaces the checkpoint's head;
without it the checkpoint must contain one. A checkpoint without a head and no --head is refused
(ntkgap's seeded head cannot be regenerated here; save it with `ntkgap forward` and pass it).

Usage (from the repository root; needs `pip install torch transformers tokenizers safetensors numpy`):

    python3 scripts/ntk_torch.py --model DIR [--head FILE] --input X.jsonl --max-len L \
        --out K.npy [--threads T] [--chunk C] [--fixture F.json]

Writes K (float64 .npy, N x N) atomically and prints exactly one JSON line on stdout:
{"seconds": wall time of the eNTK (gradients + contraction, not loading), "n", "max_len", "torch",
"threads", ...}. --fixture also writes inputs, K and provenance as JSON (how
tests/data/ntk_parity_minilm.json was made). Errors: one line `ntk_torch: error: ...` on stderr,
exit code 2, nothing written. Nothing in ntkgap's build or `cargo test` needs this script.

Memory: J is held whole as float32, N x P x 4 bytes (MiniLM, P = 22.7 M: 1.8 GB at N = 20, peak
RSS 4.3 GB measured; about 2.9 GB of J at N = 32), plus one chunk's vmap activations.
"""

import argparse
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path


class InputError(Exception):
    """A bad argument or input file: reported as one line, exit code 2."""


def parse_args(argv):
    p = argparse.ArgumentParser(description="eNTK Gram matrix of a HF classifier's margin with torch.func")
    p.add_argument("--model", required=True, type=Path, help="HF model directory (config.json, model.safetensors, tokenizer.json)")
    p.add_argument("--head", type=Path, help="safetensors file of classification-head tensors replacing the checkpoint's")
    p.add_argument("--input", required=True, type=Path, help='JSONL of {"premise","hypothesis"} or {"text"} records')
    p.add_argument("--max-len", required=True, type=int, help="maximum encoded length (premise-only truncation)")
    p.add_argument("--out", required=True, type=Path, help="output .npy (float64, N x N)")
    p.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    p.add_argument("--chunk", type=int, default=8, help="examples per vmap call (default 8; never changes K)")
    p.add_argument("--fixture", type=Path, help="also write inputs, K and provenance as JSON here")
    args = p.parse_args(argv)
    if args.max_len < 4:
        raise InputError(f"invalid --max-len: {args.max_len} is too small")
    if args.chunk < 1:
        raise InputError(f"invalid --chunk: {args.chunk} must be at least 1")
    if args.threads is not None and args.threads < 1:
        raise InputError(f"invalid --threads: {args.threads} must be at least 1")
    if args.out.suffix != ".npy":
        raise InputError(f"invalid --out: {args.out} must end in .npy")
    return args


def read_records(path):
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    records = []
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            raise InputError(f"{path}:{line_no}: empty line (expected one JSON object per line)")
        try:
            r = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"{path}:{line_no}: not a valid record: {e}") from None
        has_pair, has_text = "premise" in r or "hypothesis" in r, "text" in r
        if has_pair == has_text or (has_pair and not ("premise" in r and "hypothesis" in r)):
            raise InputError(f'{path}:{line_no}: needs "premise" and "hypothesis" (strings) or "text"')
        records.append(r)
    if not records:
        raise InputError(f"{path}: contains no records")
    return records


def encode(model_dir, records, max_len):
    """ntkgap's encoding: padding off, truncation only_first at max_len, one encoding per record."""
    from tokenizers import Tokenizer

    if not model_dir.is_dir():
        raise InputError(f"{model_dir}: model directory not found (expected config.json, model.safetensors, tokenizer.json)")
    path = model_dir / "tokenizer.json"
    if not path.is_file():
        raise InputError(f"{model_dir}: no tokenizer.json in the model directory")
    tok = Tokenizer.from_file(str(path))
    tok.no_padding()
    tok.enable_truncation(max_len, strategy="only_first")
    out = []
    for i, r in enumerate(records, 1):
        try:
            e = tok.encode(r["premise"], r["hypothesis"]) if "premise" in r else tok.encode(r["text"])
        except Exception as err:  # tokenizers raises plain Exception when the hypothesis alone is too long
            raise InputError(f"record {i}: {err} (only the premise is ever truncated)") from None
        out.append({"input_ids": e.ids, "token_type_ids": e.type_ids})
    return out


def load_model(model_dir, head_path):
    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoModelForSequenceClassification

    for name in ("config.json", "model.safetensors"):
        if not (model_dir / name).is_file():
            raise InputError(f"{model_dir}: no {name} in the model directory")
    config = AutoConfig.from_pretrained(str(model_dir))
    if config.model_type not in ("bert", "roberta"):
        raise InputError(f"{model_dir}: model_type {config.model_type!r} is not bert or roberta")
    with safe_open(str(model_dir / "model.safetensors"), "pt") as f:
        has_head = any(k.startswith("classifier.") for k in f.keys())
    if not has_head and head_path is None:
        raise InputError(f"{model_dir}: checkpoint has no classification head; pass --head FILE (ntkgap forward saves its seeded head as <stem>.head.safetensors)")
    model = AutoModelForSequenceClassification.from_pretrained(str(model_dir), attn_implementation="eager", dtype=torch.float32)
    if head_path is not None:
        if not head_path.is_file():
            raise InputError(f"{head_path}: no such file")
        head = load_file(str(head_path))
        state = model.state_dict()
        bad = [k for k, v in head.items() if k not in state or tuple(state[k].shape) != tuple(v.shape)]
        if bad or not head:
            raise InputError(f"{head_path}: tensors that do not fit the model's head: {', '.join(bad) or '(none in file)'}")
        model.load_state_dict(head, strict=False)
    return model.eval(), config


def margin(logits):
    """ntkgap's scalar output of one example's logits [K]."""
    import torch

    k = logits.shape[-1]
    if k == 1:
        return logits[0]
    if k == 2:
        return logits[1] - logits[0]
    others = torch.cat([logits[:1], logits[2:]])
    return logits[1] - torch.logsumexp(others, dim=0)


def per_example_gradients(model, params, ids, types, mask):
    """vmap(grad(f)) over the rows of [C, T] tensors -> {name: [C, *shape]}."""
    import torch
    from torch.func import functional_call, grad, vmap

    def f(p, i, t, m):
        # An additive 4-D mask is used as given (transformers' 2-D mask path branches on the
        # mask's values, which vmap cannot trace): 0 on tokens, float32 min on padding.
        bias = (1.0 - m[None, None, None, :].to(torch.float32)) * torch.finfo(torch.float32).min
        out = functional_call(model, p, (), {"input_ids": i[None], "token_type_ids": t[None], "attention_mask": bias})
        return margin(out.logits[0])

    return vmap(grad(f), in_dims=(None, 0, 0, 0))(params, ids, types, mask)


def padded(encodings, pad_id):
    import torch

    t = max(len(e["input_ids"]) for e in encodings)
    ids = torch.full((len(encodings), t), pad_id, dtype=torch.long)
    types = torch.zeros((len(encodings), t), dtype=torch.long)
    mask = torch.zeros((len(encodings), t), dtype=torch.long)
    for row, e in enumerate(encodings):
        n = len(e["input_ids"])
        ids[row, :n] = torch.tensor(e["input_ids"])
        types[row, :n] = torch.tensor(e["token_type_ids"])
        mask[row, :n] = 1
    return ids, types, mask


def entk(model, config, encodings, chunk):
    """K = J J^T (float64, N x N) over all parameters; J rows from vmap(grad) in chunks."""
    import torch

    params = {k: v.detach() for k, v in model.named_parameters()}
    pad_id = config.pad_token_id if config.pad_token_id is not None else 0
    blocks = {name: [] for name in params}
    for start in range(0, len(encodings), chunk):
        ids, types, mask = padded(encodings[start:start + chunk], pad_id)
        grads = per_example_gradients(model, params, ids, types, mask)
        for name, g in grads.items():
            blocks[name].append(g.reshape(g.shape[0], -1))
    n = len(encodings)
    k = torch.zeros((n, n), dtype=torch.float64)
    for name, parts in blocks.items():
        j = torch.cat(parts)
        for c in range(0, j.shape[1], 1 << 20):
            jc = j[:, c:c + (1 << 20)].double()
            k += jc @ jc.T
        blocks[name] = None
    return k, sum(p.numel() for p in params.values())


def write_npy_atomic(path, array):
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.save(f, array)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_fixture(path, records, encodings, k, summary):
    data = {
        "what": "empirical NTK of the margin logit1 - logit0 over all parameters, torch.func vmap(grad), eval mode, float32 compute, float64 accumulation",
        "provenance": summary,
        "inputs": [
            {"id": r.get("id"), "n_vars": r.get("n_vars"), "input_ids": e["input_ids"], "token_type_ids": e["token_type_ids"]}
            for r, e in zip(records, encodings)
        ],
        "K": k.tolist(),
    }
    path.write_text(json.dumps(data, indent=1) + "\n")


def main(argv):
    args = parse_args(argv)
    import numpy as np
    import tokenizers
    import torch
    import transformers

    transformers.utils.logging.disable_progress_bar()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    records = read_records(args.input)
    encodings = encode(args.model, records, args.max_len)
    model, config = load_model(args.model, args.head)
    limit = config.max_position_embeddings - (config.pad_token_id + 1 if config.model_type == "roberta" else 0)
    if args.max_len > limit:
        raise InputError(f"invalid --max-len: {args.max_len} exceeds the model's maximum input length {limit}")
    started = time.perf_counter()
    k, n_params = entk(model, config, encodings, args.chunk)
    seconds = time.perf_counter() - started
    summary = {
        "seconds": round(seconds, 3), "n": len(records), "max_len": args.max_len, "torch": torch.__version__,
        "threads": torch.get_num_threads(), "transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
        "numpy": np.__version__, "python": platform.python_version(), "params": n_params, "chunk": args.chunk,
        "method": "torch.func vmap(grad) + float64 J J^T",
        "command": "python3 scripts/ntk_torch.py " + " ".join(shlex.quote(a) for a in argv),
    }
    write_npy_atomic(args.out, k.numpy())
    if args.fixture is not None:
        write_fixture(args.fixture, records, encodings, k, summary)
    print(json.dumps(summary))


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except InputError as e:
        print(f"ntk_torch: error: {e}", file=sys.stderr)
        sys.exit(2)
