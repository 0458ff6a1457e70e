#!/usr/bin/env python3
"""Write the model parity fixtures that tests/model_parity.rs reads.

1. MiniLM (BERT): load sentence-transformers/all-MiniLM-L6-v2 from .cache/models/all-MiniLM-L6-v2
   (fetch it with scripts/fetch_models.sh) as `BertForSequenceClassification` with num_labels=2
   after `torch.manual_seed(HEAD_SEED)`, so `transformers` initialises a fresh 2-label head.
   Save only the head (`classifier.weight`, `classifier.bias`) as
   tests/data/minilm_head_seed0.safetensors, and the logits of every pair of
   tests/data/model_parity_pairs.jsonl (pair-encoded, premise-only truncation at MAX_LENGTH,
   one example at a time, no padding) as tests/data/model_parity_minilm.json.
2. RoBERTa: train a tiny byte-level BPE tokenizer (RoBERTa special tokens and post-processor)
   on Corr2Cause texts, build a small randomly initialised `RobertaForSequenceClassification`
   (seeded), save it whole with `save_pretrained` + tokenizer.json under tests/data/roberta_tiny/,
   and its logits on the same pairs as tests/data/model_parity_roberta.json.

Usage (from the repository root; needs `pip install torch transformers tokenizers safetensors`,
no network at run time):

    scripts/fetch_models.sh
    python3 scripts/make_model_fixtures.py [--corpus data/c2c/train.jsonl]

`--corpus` adds texts for the BPE training (the parity pairs are always included). The Rust
tests read only the files written here, never Python.
"""

import argparse
import json
import platform
from pathlib import Path

import tokenizers
import torch
import transformers
from safetensors.torch import save_file
from tokenizers import Tokenizer, models, pre_tokenizers, processors, decoders, trainers
from transformers import BertForSequenceClassification, RobertaConfig, RobertaForSequenceClassification

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
MINILM = ROOT / ".cache" / "models" / "all-MiniLM-L6-v2"
PAIRS = DATA / "model_parity_pairs.jsonl"
MAX_LENGTH = 128
HEAD_SEED = 0
ROBERTA_SEED = 1
ROBERTA_VOCAB = 400


def read_pairs():
    return [json.loads(line) for line in PAIRS.read_text().splitlines() if line.strip()]


def encode(tok, pairs):
    tok.no_padding()
    tok.enable_truncation(MAX_LENGTH, strategy="only_first")
    return [tok.encode(p["premise"], p["hypothesis"]) for p in pairs]


@torch.no_grad()
def logits_of(model, encodings):
    out = []
    for e in encodings:
        ids = torch.tensor([e.ids])
        types = torch.tensor([e.type_ids])
        mask = torch.tensor([e.attention_mask])
        out.append(model(input_ids=ids, token_type_ids=types, attention_mask=mask).logits[0].tolist())
    return out


def write_fixture(path, name, pairs, encodings, logits):
    record = {
        "model": name,
        "max_length": MAX_LENGTH,
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
        "tokenizers_version": tokenizers.__version__,
        "python": platform.python_version(),
        "records": [
            {"id": p.get("id"), "n_vars": p.get("n_vars"), "input_ids": e.ids, "logits": l}
            for p, e, l in zip(pairs, encodings, logits)
        ],
    }
    path.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {path.relative_to(ROOT)} ({len(logits)} records)")


def minilm(pairs):
    torch.manual_seed(HEAD_SEED)
    model = BertForSequenceClassification.from_pretrained(str(MINILM), num_labels=2).eval()
    head = {k: v.contiguous() for k, v in model.state_dict().items() if k.startswith("classifier.")}
    save_file(head, str(DATA / "minilm_head_seed0.safetensors"), metadata={"format": "pt"})
    tok = Tokenizer.from_file(str(MINILM / "tokenizer.json"))
    encodings = encode(tok, pairs)
    write_fixture(DATA / "model_parity_minilm.json", "all-MiniLM-L6-v2 + seeded head", pairs, encodings, logits_of(model, encodings))


def bpe_tokenizer(texts):
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=ROBERTA_VOCAB,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0), trim_offsets=True, add_prefix_space=False)
    return tok


def roberta(pairs, extra_texts):
    texts = [p["premise"] for p in pairs] + [p["hypothesis"] for p in pairs] + extra_texts
    tok = bpe_tokenizer(texts)
    torch.manual_seed(ROBERTA_SEED)
    config = RobertaConfig(
        vocab_size=tok.get_vocab_size(),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=MAX_LENGTH + 2,
        type_vocab_size=1,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        layer_norm_eps=1e-5,
        initializer_range=0.3,
        num_labels=2,
    )
    model = RobertaForSequenceClassification(config).eval()
    out = DATA / "roberta_tiny"
    out.mkdir(exist_ok=True)
    model.save_pretrained(str(out), safe_serialization=True)
    tok.save(str(out / "tokenizer.json"))
    encodings = encode(tok, pairs)
    write_fixture(DATA / "model_parity_roberta.json", "random RobertaForSequenceClassification (seed 1)", pairs, encodings, logits_of(model, encodings))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", type=Path, help="extra JSONL texts for the BPE tokenizer")
    args = parser.parse_args()
    pairs = read_pairs()
    extra = []
    if args.corpus:
        for line in args.corpus.read_text().splitlines()[:2000]:
            r = json.loads(line)
            extra += [r["premise"], r["hypothesis"]]
    minilm(pairs)
    roberta(pairs, extra)


if __name__ == "__main__":
    main()
