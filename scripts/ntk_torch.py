#!/usr/bin/env python3
"""Reference empirical NTK of a Hugging Face BERT/RoBERTa sequence classifier, or of a decoder
language model (Llama, Mistral, Qwen2, GPT-2; a HF directory or a GGUF file), with torch.func.

K(x, x') = <grad_theta f(x), grad_theta f(x')> over *all* parameters, f the margin ntkgap
differentiates (src/model/classifier.rs): logit_1 - logit_0 for two labels, logit_1 -
logsumexp(other logits) for more, the single output for one. Computed the way neural-tangents
and the torch.func tutorials do it: per-example gradients by `vmap(grad(f))` over
`functional_call(model, params, example)` (eval mode, float32), then K = J J^T per parameter
tensor: `--products f32` (default, the fair peer of ntkgap's f32 products) multiplies float32
column chunks of J with torch's sgemm and sums the chunks' products in float64; `--products f64`
converts each chunk to float64 first (dgemm; slower, the variant earlier versions used).

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
{"seconds": wall time of the eNTK (gradients + contraction, not loading), "gradient_seconds",
"contraction_seconds", "contraction_flops" (2 N^2 P), "sgemm_gflops" (torch's float32 matmul rate,
2048^3, best of 3, measured in the same process before the eNTK), "products", "n", "max_len",
"torch", "threads", ...}. --fixture also writes inputs, K and provenance as JSON (how
tests/data/ntk_parity_minilm.json was made). Errors: one line `ntk_torch: error: ...` on stderr,
exit code 2, nothing written. Nothing in ntkgap's build or `cargo test` needs this script.

Decoders (config.json's model_type llama, mistral, qwen2 or gpt2, or --gguf FILE inside --model):
f = z_yes - z_no, the logits of the two one-token label words (--label-words, default " No"
" Yes") at the last position, exactly what `ntkgap gram` differentiates (src/model/decoder/lm.rs).
Records are encoded like ntkgap's prompt tokenizer (src/model/decoder/prompt.rs): `{"text"}`
verbatim with the tokenizer's special tokens, `{"premise", "hypothesis"}` through --template
(default ntkgap's DEFAULT_TEMPLATE, placeholders filled in one pass), never truncated (a prompt
longer than --max-len is an error). The model is `AutoModelForCausalLM` (LlamaForCausalLM,
GPT2LMHeadModel, ...; eval, eager attention, float32; `from_pretrained(dir, gguf_file=...)` for a
GGUF, with its tokenizer from the same file). Examples of one vmap call are padded on the right
and masked by an additive 4-D causal + padding mask (transformers uses a 4-D mask as given), so
the last real position sees exactly its own prompt. A tied unembedding is one parameter
(`named_parameters()` lists it once; `functional_call` keeps the tie), so its gradient sums both
uses, as ntkgap's does.

    python3 scripts/ntk_torch.py --model tests/data/decoders/llama_tiny --input X.jsonl --max-len 256 --out K.npy
    python3 scripts/ntk_torch.py --model tests/data/gguf --gguf llama_tiny.gguf --input X.jsonl --max-len 256 --out K.npy

Memory: J is held whole as float32, N x P x 4 bytes (MiniLM, P = 22.7 M: 1.8 GB at N = 20, peak
RSS 4.3 GB measured; about 2.9 GB of J at N = 32; SmolLM2-135M, P = 134.5 M: 17.2 GB at N = 32),
allocated once per parameter tensor and filled row by row (never concatenated from pieces, so never
held twice), plus one chunk's gradients and vmap activations; each tensor's J is freed as soon as
its products are summed.
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


DECODER_TYPES = ("llama", "mistral", "qwen2", "gpt2")
DEFAULT_TEMPLATE = "Premise: {premise}\nHypothesis: {hypothesis}\nIs the hypothesis true? Answer:"
DEFAULT_LABEL_WORDS = (" No", " Yes")


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
    p.add_argument("--products", choices=["f32", "f64"], default="f32",
                   help="J J^T as float32 GEMMs summed in float64 (default) or as float64 GEMMs")
    p.add_argument("--fixture", type=Path, help="also write inputs, K and provenance as JSON here")
    p.add_argument("--gguf", help="decoders: a GGUF file name inside --model (from_pretrained(dir, gguf_file=...))")
    p.add_argument("--label-words", nargs=2, metavar=("NO", "YES"), default=list(DEFAULT_LABEL_WORDS),
                   help='decoders: the two one-token label words (default " No" " Yes"); f = z_yes - z_no')
    p.add_argument("--template", default=DEFAULT_TEMPLATE,
                   help="decoders: the prompt of premise/hypothesis records (default: ntkgap's)")
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
    blocks = jacobian(params, len(encodings))
    for start in range(0, len(encodings), chunk):
        ids, types, mask = padded(encodings[start:start + chunk], pad_id)
        grads = per_example_gradients(model, params, ids, types, mask)
        store_rows(blocks, start, grads)
        del grads
    return blocks, sum(p.numel() for p in params.values())


def jacobian(params, n):
    """J per parameter tensor, [n, numel] float32, allocated once (pages are touched as rows are
    written): no per-chunk pieces concatenated later, so J is never held twice."""
    import torch

    return {name: torch.empty((n, p.numel()), dtype=torch.float32) for name, p in params.items()}


def store_rows(blocks, start, grads):
    """Copy one vmap call's per-example gradients into rows start.. of J."""
    for name, g in grads.items():
        blocks[name][start:start + g.shape[0]].copy_(g.reshape(g.shape[0], -1))


def is_decoder(args):
    """A GGUF file, or a config.json whose model_type names a decoder family."""
    if args.gguf is not None:
        return True
    path = args.model / "config.json"
    if not path.is_file():
        return False
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("model_type") in DECODER_TYPES
    except json.JSONDecodeError:
        return False


def render(template, premise, hypothesis):
    """ntkgap's PromptTemplate::render: both placeholders filled in one pass over the template."""
    import re

    return re.sub(r"\{premise\}|\{hypothesis\}", lambda m: premise if m.group(0) == "{premise}" else hypothesis, template)


def decoder_tokenizer(args):
    """(encode(text) -> ids with the tokenizer's special tokens, word_ids(word) -> ids without)."""
    if not args.model.is_dir():
        raise InputError(f"{args.model}: model directory not found")
    if args.gguf is not None:
        from transformers import AutoTokenizer

        if not (args.model / args.gguf).is_file():
            raise InputError(f"{args.model / args.gguf}: no such file")
        tok = AutoTokenizer.from_pretrained(str(args.model), gguf_file=args.gguf)
        return (lambda text: tok(text)["input_ids"]), (lambda word: tok.encode(word, add_special_tokens=False))
    from tokenizers import Tokenizer

    path = args.model / "tokenizer.json"
    if not path.is_file():
        raise InputError(f"{args.model}: no tokenizer.json in the model directory")
    tok = Tokenizer.from_file(str(path))
    tok.no_padding()
    tok.no_truncation()
    return (lambda text: tok.encode(text).ids), (lambda word: tok.encode(word, add_special_tokens=False).ids)


def encode_decoder(records, encode, max_len, template):
    out = []
    for i, r in enumerate(records, 1):
        text = render(template, r["premise"], r["hypothesis"]) if "premise" in r else r["text"]
        ids = encode(text)
        if len(ids) > max_len:
            raise InputError(f"record {i}: the prompt is {len(ids)} tokens, above the maximum length {max_len} (decoder prompts are never truncated)")
        out.append({"input_ids": ids})
    return out


def label_ids(words, word_ids):
    ids = []
    for word in words:
        w = word_ids(word)
        if len(w) != 1:
            raise InputError(f"invalid --label-words: {word!r} is {len(w)} tokens {w}; each label word must be exactly one token")
        ids.append(w[0])
    if ids[0] == ids[1]:
        raise InputError(f"invalid --label-words: {words} are the same token {ids[0]}")
    return ids


def load_decoder(args):
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    kwargs = {"gguf_file": args.gguf} if args.gguf is not None else {}
    if args.gguf is None:
        for name in ("config.json",):
            if not (args.model / name).is_file():
                raise InputError(f"{args.model}: no {name} in the model directory")
    config = AutoConfig.from_pretrained(str(args.model), **kwargs)
    if config.model_type not in DECODER_TYPES:
        raise InputError(f"{args.model}: model_type {config.model_type!r} is not one of {', '.join(DECODER_TYPES)}")
    if any("ForSequenceClassification" in a for a in (config.architectures or [])):
        raise InputError(f"{args.model}: a sequence classifier; this script differentiates label-word logits of language models")
    model = AutoModelForCausalLM.from_pretrained(str(args.model), attn_implementation="eager", dtype=torch.float32, **kwargs)
    return model.eval(), config


def decoder_gradients(model, params, ids, mask, labels):
    """vmap(grad(f)) over right-padded rows, f = z_yes - z_no at each row's last real position."""
    import torch
    from torch.func import functional_call, grad, vmap

    no, yes = labels

    def f(p, i, m):
        t = i.shape[0]
        causal = torch.ones(t, t, dtype=torch.bool).tril()
        allowed = causal & (m[None, :] != 0)
        bias = torch.where(allowed, 0.0, torch.finfo(torch.float32).min)[None, None]
        logits = functional_call(model, p, (), {"input_ids": i[None], "attention_mask": bias}).logits[0]
        last = (torch.arange(t) == m.sum() - 1).to(logits.dtype)
        row = (logits * last[:, None]).sum(0)
        return row[yes] - row[no]

    return vmap(grad(f), in_dims=(None, 0, 0))(params, ids, mask)


def entk_decoder(model, encodings, chunk, labels):
    """K = J J^T (float64) of f = z_yes - z_no over all parameters (a tied table once)."""
    import torch

    params = {k: v.detach() for k, v in model.named_parameters()}
    blocks = jacobian(params, len(encodings))
    for start in range(0, len(encodings), chunk):
        part = encodings[start:start + chunk]
        t = max(len(e["input_ids"]) for e in part)
        ids = torch.zeros((len(part), t), dtype=torch.long)
        mask = torch.zeros((len(part), t), dtype=torch.long)
        for row, e in enumerate(part):
            ids[row, :len(e["input_ids"])] = torch.tensor(e["input_ids"])
            mask[row, :len(e["input_ids"])] = 1
        grads = decoder_gradients(model, params, ids, mask, labels)
        store_rows(blocks, start, grads)
        del grads
    return blocks, sum(p.numel() for p in params.values())


def gram_of(blocks, n, products="f64"):
    """K = sum over parameter tensors of J J^T in float64: float32 column chunks multiplied by
    sgemm and summed in float64 (`products="f32"`), or the chunks converted to float64 first."""
    import torch

    k = torch.zeros((n, n), dtype=torch.float64)
    for name in list(blocks):
        j = blocks.pop(name)
        for c in range(0, j.shape[1], 1 << 20):
            jc = j[:, c:c + (1 << 20)]
            if products == "f32":
                k += (jc @ jc.T).double()
            else:
                jc = jc.double()
                k += jc @ jc.T
        # Drop J and its last column view (which keeps J's storage alive) before the next tensor;
        # `del` would fail on a tensor without elements, whose loop binds no view.
        j = jc = None
    return k


def sgemm_rate(size=2048, repeats=3):
    """torch's float32 matmul rate (GFLOP/s) on size^3, best of `repeats` after one warm-up."""
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - started)
    return 2.0 * size ** 3 / best / 1e9


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
            {"id": r.get("id"), "n_vars": r.get("n_vars"), "input_ids": e["input_ids"], "token_type_ids": e.get("token_type_ids")}
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
    extra = {}
    if is_decoder(args):
        if args.head is not None:
            raise InputError("invalid --head: a head file applies to encoder classifiers only")
        encode_text, word_ids = decoder_tokenizer(args)
        labels = label_ids(args.label_words, word_ids)
        encodings = encode_decoder(records, encode_text, args.max_len, args.template)
        model, config = load_decoder(args)
        if args.max_len > config.max_position_embeddings:
            raise InputError(f"invalid --max-len: {args.max_len} exceeds the model's maximum input length {config.max_position_embeddings}")
        extra = {"label_words": args.label_words, "label_ids": labels, "template": args.template, "gguf": args.gguf}
        sgemm = sgemm_rate()
        started = time.perf_counter()
        blocks, n_params = entk_decoder(model, encodings, args.chunk, labels)
    else:
        encodings = encode(args.model, records, args.max_len)
        model, config = load_model(args.model, args.head)
        limit = config.max_position_embeddings - (config.pad_token_id + 1 if config.model_type == "roberta" else 0)
        if args.max_len > limit:
            raise InputError(f"invalid --max-len: {args.max_len} exceeds the model's maximum input length {limit}")
        sgemm = sgemm_rate()
        started = time.perf_counter()
        blocks, n_params = entk(model, config, encodings, args.chunk)
    gradient_seconds = time.perf_counter() - started
    k = gram_of(blocks, len(encodings), args.products)
    seconds = time.perf_counter() - started
    summary = {
        "seconds": round(seconds, 3), "gradient_seconds": round(gradient_seconds, 3),
        "contraction_seconds": round(seconds - gradient_seconds, 3),
        "contraction_flops": 2.0 * len(records) ** 2 * n_params, "sgemm_gflops": round(sgemm, 1),
        "products": args.products, "n": len(records), "max_len": args.max_len, "torch": torch.__version__,
        "threads": torch.get_num_threads(), "transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
        "numpy": np.__version__, "python": platform.python_version(), "params": n_params, "chunk": args.chunk,
        "method": "torch.func vmap(grad) + J J^T (" + ("float32 GEMMs summed in float64" if args.products == "f32" else "float64 GEMMs") + ")", "model_type": config.model_type, **extra,
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
