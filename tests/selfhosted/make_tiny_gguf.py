"""Make a tiny llama-architecture GGUF model locally, for testing against a real llama.cpp server.

No weights can be downloaded here, so the model is made from nothing: a byte-level BPE tokenizer trained with
`tokenizers` on Python's own standard-library sources, a `transformers` LlamaForCausalLM with random weights
from a small config, and the HF checkpoint converted to GGUF with the `gguf` package's writer (the same tensor
names and q/k permutation as llama.cpp's converter), with a ChatML chat template that renders tools.
Its answers are gibberish; the wire protocol of the server that loads it is real.

    python tests/selfhosted/make_tiny_gguf.py OUT.gguf      # ~10 s on 2 cores; needs torch, transformers,
                                                             # tokenizers, gguf
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import sysconfig
from pathlib import Path

# The recipe's knobs, hashed into the cache key: change one and the cached file is rebuilt.
CONFIG = {
    "vocab_size": 1024,
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 2048,
    "rms_norm_eps": 1e-5,
    "rope_theta": 10000.0,
    "seed": 0,
    "corpus": ["json", "email", "http", "asyncio", "unittest"],  # stdlib packages whose .py files train the BPE
}
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# ChatML, with tools listed in the system turn as tool-aware templates (Qwen's, Hermes') do.
CHAT_TEMPLATE = (
    "{%- if tools %}<|im_start|>system\n"
    "{%- if messages[0].role == 'system' %}{{ messages[0].content }}\n\n{%- endif %}"
    "You may call these tools:\n{%- for tool in tools %}\n{{ tool | tojson }}{%- endfor %}<|im_end|>\n"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{%- if not (tools and loop.first and message.role == 'system') %}"
    "<|im_start|>{{ message.role }}\n{{ message.content if message.content is string else '' }}<|im_end|>\n"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}<|im_start|>assistant\n{%- endif %}"
)


def cache_key() -> str:
    recipe = Path(__file__).read_bytes()
    return hashlib.sha256(recipe + sys.version.encode()).hexdigest()[:16]


def _corpus() -> list[str]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = []
    for package in CONFIG["corpus"]:
        files += sorted((stdlib / package).rglob("*.py"))
    return [str(f) for f in files]


def train_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=CONFIG["vocab_size"],
        special_tokens=SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train(_corpus(), trainer)
    return tok


def _permute(w, n_head: int, n_head_kv: int):
    """llama.cpp's converter reorders q/k rows from HF's rotate-half layout to its interleaved RoPE."""
    if n_head_kv != n_head:
        n_head = n_head_kv
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def make(out: Path) -> Path:
    import gguf
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = train_tokenizer()
    state = json.loads(tok.to_str())
    vocab: dict[str, int] = state["model"]["vocab"]
    merges = [m if isinstance(m, str) else " ".join(m) for m in state["model"]["merges"]]
    tokens = [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
    n_vocab = len(tokens)
    types = [gguf.TokenType.CONTROL if t in SPECIAL else gguf.TokenType.NORMAL for t in tokens]

    torch.manual_seed(CONFIG["seed"])
    cfg = LlamaConfig(
        vocab_size=n_vocab,
        hidden_size=CONFIG["hidden_size"],
        intermediate_size=CONFIG["intermediate_size"],
        num_hidden_layers=CONFIG["num_hidden_layers"],
        num_attention_heads=CONFIG["num_attention_heads"],
        num_key_value_heads=CONFIG["num_key_value_heads"],
        max_position_embeddings=CONFIG["max_position_embeddings"],
        rms_norm_eps=CONFIG["rms_norm_eps"],
        rope_theta=CONFIG["rope_theta"],
        tie_word_embeddings=False,
        bos_token_id=vocab["<|endoftext|>"],
        eos_token_id=vocab["<|im_end|>"],
    )
    model = LlamaForCausalLM(cfg).eval()
    n_head, n_kv = cfg.num_attention_heads, cfg.num_key_value_heads

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".partial")
    w = gguf.GGUFWriter(tmp, "llama")
    w.add_name("offramp-tiny-llama")
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_block_count(cfg.num_hidden_layers)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_kv)
    w.add_rope_dimension_count(cfg.hidden_size // n_head)
    w.add_rope_freq_base(CONFIG["rope_theta"])
    w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    w.add_vocab_size(n_vocab)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt-2")  # ByteLevel's regex is GPT-2's
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(vocab["<|endoftext|>"])
    w.add_eos_token_id(vocab["<|im_end|>"])
    w.add_pad_token_id(vocab["<|endoftext|>"])
    w.add_add_bos_token(False)
    w.add_chat_template(CHAT_TEMPLATE)

    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, cfg.num_hidden_layers)
    for hf_name, tensor in model.state_dict().items():
        if hf_name.endswith("rotary_emb.inv_freq"):
            continue
        data = tensor.detach().to(torch.float32).numpy()
        if hf_name.endswith("q_proj.weight"):
            data = _permute(data, n_head, n_head)
        elif hf_name.endswith("k_proj.weight"):
            data = _permute(data, n_head, n_kv)
        name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if name is None:
            raise SystemExit(f"make_tiny_gguf: no GGUF name for tensor {hf_name}")
        w.add_tensor(name, data)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    tmp.replace(out)
    return out


def cached(cache_dir: Path) -> Path:
    """The model for this recipe under `cache_dir`, made once."""
    path = cache_dir / f"tiny-llama-{cache_key()}.gguf"
    return path if path.exists() else make(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="GGUF file to write")
    args = ap.parse_args(argv)
    make(args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
