#!/usr/bin/env python3
"""Write the GGUF fixtures under tests/data/gguf/ (read by crates/ntkgap-core/tests/gguf*.rs).

Part `types` (gguf-py only, seeded):

1. One tiny GGUF per ggml type ntkgap dequantizes, `<type>.gguf`, holding one tensor `weight`
   (shape (4, 64) for the 32-value block types, (2, 256) for the k-quants, (2, 3, 8) for F16 to
   check the shape order), written by gguf-py's GGUFWriter. Block types hold RANDOM RAW BLOCKS
   (every bit pattern of the quant fields is exercised) whose f16 scales are overwritten with
   finite values; F32/F16/BF16 hold normal values plus ±0, ±inf, subnormals and NaNs (one of them
   signalling, in F16, to check that the payload survives). `q8_0.gguf` uses a custom alignment of
   64 (`general.alignment`). `iq2_xxs.gguf` holds one random IQ2_XXS block: a type ntkgap refuses.
2. `<type>.f32`: the values `gguf.quants.dequantize` gives for the tensor as `GGUFReader` reads it
   back (what transformers does), raw little-endian float32, C order. Compared BIT FOR BIT.
3. `metadata.gguf` + `metadata.json`: every metadata value type, arrays of each, nested arrays,
   Unicode strings, and the expected JSON rendering.

Part `tiny` (also needs torch, transformers, safetensors):

4. `llama_tiny.gguf`, `qwen2_tiny.gguf`, `gpt2_tiny.gguf`: tests/data/decoders/<name>/ converted
   the way llama.cpp's convert_hf_to_gguf.py does (Llama q/k rows permuted for its rope; GPT-2
   Conv1D weights transposed to [out, in]; llama.cpp's copy of the GPT-2 embedding as `output.weight` is
   left out),
   tensors in a mix of F32 (norms, biases), F16 and Q8_0, the tokenizer as `gpt2` metadata (tokens,
   merges, token types: the three added tokens CONTROL, the rest NORMAL; bos/eos/pad ids;
   add_bos_token true for llama_tiny only, as its tokenizer.json adds `<s>`) and a chat template,
   except qwen2_tiny, which has no tokenizer (only `qwen2.vocab_size`) to keep the files small.
   `pre_tokenizer_ids.json`: the ids transformers gives 4 texts with that vocabulary under
   `tokenizer.ggml.pre` = default, llama-bpe, qwen2, gpt-4o and tekken (tokenizer-only GGUFs in a
   temporary directory; the Rust test rebuilds them with the same metadata).
5. `<name>_hf.json`: what transformers loads from that GGUF (AutoModelForCausalLM.from_pretrained(
   dir, gguf_file=..., dtype=float32)): the config, and per HF parameter the shape, the SHA-256 of its
   float32 little-endian bytes, its first 4 values and the largest difference from the original
   safetensors weight (quantization error; 0 for F32 tensors).

Part `smollm2` (needs .cache/models/SmolLM2-135M-Instruct/*.gguf from scripts/fetch_models.sh):

6. `smollm2_hf.json`: the same for the real SmolLM2-135M-Instruct Q4_1 GGUF, for the global tensors
   and every tensor of layers 0 and 29, plus the first 16 values of 3 rows of layer 0's q/k/v.

Part `seeds`: fuzz/seeds/gguf/ for the `gguf` fuzz target (copies of small type files, and a 6 kB
Llama-shaped model with a tokenizer and a chat template).

Usage (repository root): python3 scripts/make_gguf_fixtures.py [--part types|tiny|smollm2|seeds|all]
"""

import argparse
import hashlib
import json
import sys
from importlib import metadata as pkg_metadata
from pathlib import Path

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf import GGUFReader, GGUFValueType as V, GGUFWriter

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "data" / "gguf"
DECODERS = ROOT / "tests" / "data" / "decoders"
SMOLLM2 = ROOT / ".cache" / "models" / "SmolLM2-135M-Instruct" / "SmolLM2-135M-Instruct.Q4_1.gguf"
SEED = 20261206
CHATML = (
    "{% for message in messages %}{{'<|endoftext|>' if loop.first else ''}}{{ message['role'] + ': ' "
    "+ message['content'] | trim }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}"
)

# (type, shape, offsets of the f16 scale fields inside a block)
BLOCK_TYPES = [
    (T.Q4_0, (4, 64), [0]),
    (T.Q4_1, (4, 64), [0, 2]),
    (T.Q5_0, (4, 64), [0]),
    (T.Q5_1, (4, 64), [0, 2]),
    (T.Q8_0, (4, 64), [0]),
    (T.Q2_K, (2, 256), [80, 82]),
    (T.Q3_K, (2, 256), [108]),
    (T.Q4_K, (2, 256), [0, 2]),
    (T.Q5_K, (2, 256), [0, 2]),
    (T.Q6_K, (2, 256), [208]),
    (T.IQ2_XXS, (1, 256), [0]),
]


def versions():
    names = ["gguf", "numpy", "torch", "transformers", "safetensors"]
    out = {"python": sys.version.split()[0]}
    for n in names:
        try:
            out[n] = pkg_metadata.version(n)
        except pkg_metadata.PackageNotFoundError:
            pass
    return out


def write_json(path, obj):
    text = json.dumps(obj, indent=1, ensure_ascii=False) + "\n"
    json.loads(text)
    path.write_text(text)
    print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size} bytes)")


def write_gguf(path, arch, fill, alignment=None):
    w = GGUFWriter(str(path), arch)
    if alignment:
        w.add_custom_alignment(alignment)
    fill(w)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size} bytes)")


def read_back(path, name):
    t = next(t for t in GGUFReader(str(path)).tensors if t.name == name)
    return gguf.dequantize(t.data, t.tensor_type)


def special_floats(rng, n, dtype):
    x = rng.standard_normal(n).astype(np.float32)
    tiny = np.finfo(dtype).tiny
    specials = [0.0, -0.0, np.inf, -np.inf, np.nan, tiny / 4, -tiny / 2, np.finfo(dtype).max]
    x[: len(specials)] = np.array(specials, dtype=np.float32)
    return x


def run_types():
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    manifest = {"seed": SEED, "versions": versions(), "tensors": []}

    plain = [
        (T.F32, (4, 8), lambda: special_floats(rng, 32, np.float32).reshape(4, 8)),
        (T.F16, (2, 3, 8), lambda: special_floats(rng, 48, np.float16).astype(np.float16).reshape(2, 3, 8)),
        (T.BF16, (4, 8), None),
    ]
    for ty, shape, make in plain:
        name = ty.name.lower()
        if ty == T.BF16:
            values = special_floats(rng, 32, np.float32).reshape(shape)
            raw = gguf.quants.quantize(values, T.BF16)
            fill = lambda w, raw=raw: w.add_tensor("weight", raw, raw_shape=raw.shape, raw_dtype=T.BF16)
        else:
            data = make()
            if ty == T.F16:
                bits = data.view(np.uint16)
                bits[0, 0, 5] = 0x7C01  # a signalling NaN: NumPy keeps its payload
            fill = lambda w, data=data: w.add_tensor("weight", data)
        write_gguf(OUT / f"{name}.gguf", "ntkgap-test", fill)
        finish_type(manifest, ty, shape)

    for ty, shape, scale_offsets in BLOCK_TYPES:
        block, size = gguf.GGML_QUANT_SIZES[ty]
        n_blocks = shape[0] * shape[1] // block
        raw = rng.integers(0, 256, size=(n_blocks, size), dtype=np.uint8)
        for off in scale_offsets:
            scales = (rng.standard_normal(n_blocks) * 0.05).astype(np.float16)
            raw[:, off : off + 2] = scales.view(np.uint8).reshape(n_blocks, 2)
        raw = raw.reshape(shape[0], shape[1] // block * size)
        name = ty.name.lower()
        fill = lambda w, raw=raw, ty=ty: w.add_tensor("weight", raw, raw_shape=raw.shape, raw_dtype=ty)
        write_gguf(OUT / f"{name}.gguf", "ntkgap-test", fill, alignment=64 if ty == T.Q8_0 else None)
        if ty != T.IQ2_XXS:
            finish_type(manifest, ty, shape)
    write_metadata_fixture()
    write_json(OUT / "types.json", manifest)


def finish_type(manifest, ty, shape):
    name = ty.name.lower()
    values = np.ascontiguousarray(read_back(OUT / f"{name}.gguf", "weight"), dtype=np.float32)
    assert values.shape == shape, (ty, values.shape, shape)
    (OUT / f"{name}.f32").write_bytes(values.astype("<f4").tobytes())
    manifest["tensors"].append(
        {"type": ty.name, "file": f"{name}.gguf", "expected": f"{name}.f32", "shape": list(shape),
         "n_nan": int(np.isnan(values).sum())}
    )


def write_metadata_fixture():
    entries = [
        ("t.u8", 200, V.UINT8), ("t.i8", -100, V.INT8), ("t.u16", 60000, V.UINT16), ("t.i16", -30000, V.INT16),
        ("t.u32", 4000000000, V.UINT32), ("t.i32", -2000000000, V.INT32), ("t.f32", 0.1, V.FLOAT32),
        ("t.bool", True, V.BOOL), ("t.str", "naïve café 日本語 🎉", V.STRING),
        ("t.u64", 18000000000000000000, V.UINT64), ("t.i64", -9000000000000000000, V.INT64),
        ("t.f64", 2.5e-300, V.FLOAT64),
    ]
    arrays = [
        ("a.u8", [0, 255], V.UINT8), ("a.i8", [-128, 127], V.INT8), ("a.u16", [1, 65535], V.UINT16),
        ("a.i16", [-32768, 5], V.INT16), ("a.u32", [7, 4294967295], V.UINT32), ("a.i32", [-1, 3, 2147483647], V.INT32),
        ("a.f32", [1.5, -0.25], V.FLOAT32), ("a.bool", [True, False, True], V.BOOL),
        ("a.str", ["", "a b", "Ġworld", "<|im_start|>"], V.STRING), ("a.u64", [1, 2**64 - 1], V.UINT64),
        ("a.i64", [-(2**63), 1], V.INT64), ("a.f64", [1e300, -2.0], V.FLOAT64),
    ]

    def fill(w):
        for key, value, vtype in entries:
            w.add_key_value(key, value, vtype)
        for key, value, sub in arrays:
            w.add_key_value(key, value, V.ARRAY, sub_type=sub)
        w.add_array("a.nested", [["x", "y"], ["z"]])
        w.add_array("a.nested2", [[[1, 2], [3]], [[4]]])
        w.add_tensor("empty_ok", np.zeros((1, 4), dtype=np.float32))

    write_gguf(OUT / "metadata.gguf", "ntkgap-test", fill)
    expected = {"general.architecture": "ntkgap-test"}
    for key, value, vtype in entries:
        expected[key] = float(np.float32(value)) if vtype == V.FLOAT32 else value
    for key, value, sub in arrays:
        expected[key] = [float(np.float32(v)) for v in value] if sub == V.FLOAT32 else value
    expected["a.nested"] = [["x", "y"], ["z"]]
    expected["a.nested2"] = [[[1, 2], [3]], [[4]]]
    types = {f.name: [V(t).name for t in f.types] for f in GGUFReader(str(OUT / "metadata.gguf")).fields.values()}
    write_json(OUT / "metadata.json", {"values": expected, "gguf_py_types": types})


# ---------------------------------------------------------------- part tiny


def llama_cpp_permute(w, n_head):
    """convert_hf_to_gguf.py LlamaModel.permute: HF rotate-half rows -> interleaved rope rows."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def tokenizer_metadata(w, tok_dir, add_bos, bos, eos, pad, pre="default"):
    tok = json.loads((tok_dir / "tokenizer.json").read_text())
    vocab = tok["model"]["vocab"]
    tokens = [None] * len(vocab)
    for t, i in vocab.items():
        tokens[i] = t
    types = [1] * len(tokens)
    for added in tok["added_tokens"]:
        types[added["id"]] = 3 if added["special"] else 4
    merges = [m if isinstance(m, str) else " ".join(m) for m in tok["model"]["merges"]]
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(pre)
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(bos)
    w.add_eos_token_id(eos)
    w.add_pad_token_id(pad)
    w.add_add_bos_token(add_bos)
    w.add_add_eos_token(False)
    w.add_chat_template(CHATML)


def q8_or(ty, x):
    """(array, raw_dtype) for add_tensor."""
    if ty == T.F32:
        return x.astype(np.float32), None
    if ty == T.F16:
        return x.astype(np.float16), None
    return gguf.quants.quantize(x.astype(np.float32), ty), ty


def convert_tiny(name):
    import torch
    from safetensors.numpy import load_file

    src = DECODERS / name
    cfg = json.loads((src / "config.json").read_text())
    st = load_file(str(src / "model.safetensors"))
    arch = {"llama": "llama", "qwen2": "qwen2", "gpt2": "gpt2"}[cfg["model_type"]]
    tensors = []  # (gguf name, array)
    if arch == "gpt2":
        n_layer = cfg["n_layer"]
        tensors += [("token_embd.weight", st["transformer.wte.weight"]), ("position_embd.weight", st["transformer.wpe.weight"])]
        tensors += [("output_norm.weight", st["transformer.ln_f.weight"]), ("output_norm.bias", st["transformer.ln_f.bias"])]
        parts = {"ln_1": "attn_norm", "attn.c_attn": "attn_qkv", "attn.c_proj": "attn_output", "ln_2": "ffn_norm",
                 "mlp.c_fc": "ffn_up", "mlp.c_proj": "ffn_down"}
        for i in range(n_layer):
            for hf, gg in parts.items():
                for p in ("weight", "bias"):
                    x = st[f"transformer.h.{i}.{hf}.{p}"]
                    if p == "weight" and x.ndim == 2:
                        x = x.T.copy()  # Conv1D [in, out] -> [out, in]
                    tensors.append((f"blk.{i}.{gg}.{p}", x))
        # llama.cpp also writes `output.weight` as a copy of the embedding; left out to keep the file small
        # (transformers then ties lm_head to the embedding, as the original model does).
    else:
        n_head, n_kv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
        tensors += [("token_embd.weight", st["model.embed_tokens.weight"]), ("output_norm.weight", st["model.norm.weight"])]
        if "lm_head.weight" in st:
            tensors.append(("output.weight", st["lm_head.weight"]))
        parts = {"input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
                 "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output", "post_attention_layernorm": "ffn_norm",
                 "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}
        for i in range(cfg["num_hidden_layers"]):
            for hf, gg in parts.items():
                for p in ("weight", "bias"):
                    key = f"model.layers.{i}.{hf}.{p}"
                    if key not in st:
                        continue
                    x = st[key]
                    if arch == "llama" and gg == "attn_q":
                        x = llama_cpp_permute(x, n_head)
                    if arch == "llama" and gg == "attn_k":
                        x = llama_cpp_permute(x, n_kv)
                    tensors.append((f"blk.{i}.{gg}.{p}", x))

    def storage(gname, x):
        """F32 for vectors and layer 0's v projection, F16 for a few matrices, Q8_0 for the rest."""
        if x.ndim == 1 or gname == "blk.0.attn_v.weight":
            return T.F32
        if gname in ("blk.0.attn_q.weight", "blk.0.ffn_up.weight", "blk.0.attn_qkv.weight", "blk.1.attn_k.weight",
                     "blk.1.ffn_gate.weight", "blk.1.ffn_down.weight"):
            return T.F16
        return T.Q8_0

    path = OUT / f"{name}.gguf"
    tok_dir = src
    bos = cfg.get("bos_token_id") if cfg.get("bos_token_id") is not None else 0

    def fill(w):
        if arch == "gpt2":
            w.add_context_length(cfg["n_positions"])
            w.add_embedding_length(cfg["n_embd"])
            w.add_feed_forward_length(cfg.get("n_inner") or 4 * cfg["n_embd"])
            w.add_block_count(cfg["n_layer"])
            w.add_head_count(cfg["n_head"])
            w.add_layer_norm_eps(cfg["layer_norm_epsilon"])
        else:
            w.add_context_length(cfg["max_position_embeddings"])
            w.add_embedding_length(cfg["hidden_size"])
            w.add_feed_forward_length(cfg["intermediate_size"])
            w.add_block_count(cfg["num_hidden_layers"])
            w.add_head_count(cfg["num_attention_heads"])
            w.add_head_count_kv(cfg["num_key_value_heads"])
            w.add_rope_freq_base(cfg.get("rope_parameters", {}).get("rope_theta") or cfg.get("rope_theta"))
            w.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
            if arch == "llama":
                w.add_rope_dimension_count(cfg["hidden_size"] // cfg["num_attention_heads"])
                w.add_vocab_size(cfg["vocab_size"])
        w.add_file_type(7)
        if arch == "qwen2":
            w.add_vocab_size(cfg["vocab_size"])  # no tokenizer in this file (same as gpt2_tiny's; size budget)
        else:
            tokenizer_metadata(w, tok_dir, add_bos=(name == "llama_tiny"), bos=bos if name == "llama_tiny" else 0, eos=0,
                               pad=2)
        for gname, x in tensors:
            ty = storage(gname, x)
            arr, raw = q8_or(ty, x)
            w.add_tensor(gname, arr, raw_shape=arr.shape if raw is not None else None, raw_dtype=raw)

    write_gguf(path, arch, fill)
    # transformers maps gpt2.context_length to `n_ctx`, not `n_positions` (the size of wpe), so the
    # latter is passed explicitly (a transformers 5.25 quirk; the GGUF itself is correct).
    extra = {"n_positions": cfg["n_positions"]} if arch == "gpt2" else {}
    hf_fixture(path, OUT / f"{name}_hf.json", original=lambda k: st.get(k), selection=None, **extra)


def sha(x):
    return hashlib.sha256(np.ascontiguousarray(x, dtype="<f4").tobytes()).hexdigest()


def hf_fixture(path, out, original, selection, rows=None, **overrides):
    import torch
    import transformers

    torch.set_num_threads(2)
    model = transformers.AutoModelForCausalLM.from_pretrained(
        str(path.parent), gguf_file=path.name, dtype=torch.float32, **overrides
    )
    sd = model.state_dict()
    config = json.loads(model.config.to_json_string())
    entries = {}
    for key, value in sd.items():
        if selection is not None and not selection(key):
            continue
        x = value.detach().numpy().astype(np.float32)
        e = {"shape": list(x.shape), "sha256": sha(x), "first4": [float(v) for v in x.reshape(-1)[:4]]}
        orig = original(key)
        if orig is not None:
            e["max_abs_diff_vs_safetensors"] = float(np.max(np.abs(orig.astype(np.float32) - x)))
        if rows and key in rows:
            e["rows_first16"] = {str(r): [float(v) for v in x[r, :16]] for r in rows[key]}
        entries[key] = e
    write_json(out, {
        "gguf": str(path.relative_to(ROOT)),
        "loader": "transformers AutoModelForCausalLM.from_pretrained(dir, gguf_file=..., dtype=float32)",
        "config": config, "config_overrides": overrides, "tensors": entries, "versions": versions(),
        "note": "sha256 of each state_dict tensor as little-endian float32 bytes, C order",
    })


PRE_TEXTS = [
    "DON'T we'll they've 1234567 and 3.14159",
    "x   12 and y    345\n\n\tz  ",
    "naïve café 日本語 🎉 <|endoftext|> <s>",
    "Z correlates with Y. However, Z and X are independent given Y.",
]


def pre_tokenizer_fixture():
    """transformers' ids for the llama_tiny vocabulary under the pre-tokenizer families it knows."""
    import tempfile

    import transformers

    out = {"texts": PRE_TEXTS, "vocab_from": "tests/data/decoders/llama_tiny/tokenizer.json", "ids": {}}
    for pre in ("default", "llama-bpe", "qwen2", "gpt-4o", "tekken"):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "tok.gguf"

            def fill(w, pre=pre):
                tokenizer_metadata(w, DECODERS / "llama_tiny", add_bos=False, bos=1, eos=0, pad=2, pre=pre)

            w = GGUFWriter(str(path), "llama")
            fill(w)
            w.write_header_to_file()
            w.write_kv_data_to_file()
            w.write_tensors_to_file()
            w.close()
            tok = transformers.AutoTokenizer.from_pretrained(tmp, gguf_file="tok.gguf")
            out["ids"][pre] = [tok(t).input_ids for t in PRE_TEXTS]
    write_json(OUT / "pre_tokenizer_ids.json", out)


def run_tiny():
    for name in ("llama_tiny", "qwen2_tiny", "gpt2_tiny"):
        convert_tiny(name)
    pre_tokenizer_fixture()


def run_smollm2():
    if not SMOLLM2.exists():
        sys.exit(f"{SMOLLM2} is missing: run scripts/fetch_models.sh first")
    keep = lambda k: not k.startswith("model.layers.") or k.startswith(("model.layers.0.", "model.layers.29."))
    rows = {f"model.layers.0.self_attn.{p}_proj.weight": [0, 1, 2] for p in "qkv"}
    hf_fixture(SMOLLM2, OUT / "smollm2_hf.json", original=lambda k: None, selection=keep, rows=rows)
    data = json.loads((OUT / "smollm2_hf.json").read_text())
    data["gguf_sha256"] = hashlib.sha256(SMOLLM2.read_bytes()).hexdigest()
    write_json(OUT / "smollm2_hf.json", data)


def run_seeds():
    """Seeds for the `gguf` fuzz target (fuzz/seeds/gguf/): the small type files above, and one
    6 kB Llama-shaped model (hidden 32, 1 layer, 2 heads, 1 KV head, 10-token byte-level BPE
    vocabulary with control, user-defined and normal tokens, BOS added, a chat template) whose
    tensors use eight different types."""
    import shutil

    seeds = ROOT / "fuzz" / "seeds" / "gguf"
    seeds.mkdir(parents=True, exist_ok=True)
    for name in ("f16", "bf16", "q4_1", "q5_0", "q8_0", "q2_k", "q4_k", "q6_k", "iq2_xxs", "metadata"):
        shutil.copy(OUT / f"{name}.gguf", seeds / f"{name}.gguf")
    rng = np.random.default_rng(SEED + 1)
    tokens = ["<|endoftext|>", "<s>", "a", "b", "ab", "\u0120", "\u0120a", "c", "\u010a", "<x>"]

    def fill(w):
        w.add_context_length(16)
        w.add_embedding_length(32)
        w.add_feed_forward_length(32)
        w.add_block_count(1)
        w.add_head_count(2)
        w.add_head_count_kv(1)
        w.add_rope_freq_base(10000.0)
        w.add_layer_norm_rms_eps(1e-6)
        w.add_tokenizer_model("gpt2")
        w.add_tokenizer_pre("llama-bpe")
        w.add_token_list(tokens)
        w.add_token_types([3, 3, 1, 1, 1, 1, 1, 1, 1, 4])
        w.add_token_merges(["a b", "\u0120 a"])
        w.add_bos_token_id(1)
        w.add_eos_token_id(0)
        w.add_pad_token_id(0)
        w.add_add_bos_token(True)
        w.add_chat_template(CHATML)
        shapes = {"token_embd.weight": ((10, 32), T.Q8_0), "output_norm.weight": ((32,), T.F32),
                  "blk.0.attn_norm.weight": ((32,), T.F32), "blk.0.attn_q.weight": ((32, 32), T.Q8_0),
                  "blk.0.attn_k.weight": ((16, 32), T.F16), "blk.0.attn_v.weight": ((16, 32), T.Q4_0),
                  "blk.0.attn_output.weight": ((32, 32), T.Q5_1), "blk.0.ffn_norm.weight": ((32,), T.F32),
                  "blk.0.ffn_gate.weight": ((32, 32), T.Q4_1), "blk.0.ffn_up.weight": ((32, 32), T.Q5_0),
                  "blk.0.ffn_down.weight": ((32, 32), T.BF16)}
        for name, (shape, ty) in shapes.items():
            x = rng.standard_normal(shape).astype(np.float32)
            arr, raw = q8_or(ty, x)
            w.add_tensor(name, arr, raw_shape=arr.shape if raw is not None else None, raw_dtype=raw)

    write_gguf(seeds / "llama_small.gguf", "llama", fill)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", choices=["types", "tiny", "smollm2", "seeds", "all"], default="all")
    part = ap.parse_args().part
    if part in ("types", "all"):
        run_types()
    if part in ("tiny", "all"):
        run_tiny()
    if part in ("smollm2", "all"):
        run_smollm2()
    if part in ("seeds", "all"):
        run_seeds()


if __name__ == "__main__":
    main()
