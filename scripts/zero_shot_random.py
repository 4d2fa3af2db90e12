"""A small randomly initialised zero-shot model in Hugging Face format, for tests where no real weights exist.

    python scripts/zero_shot_random.py --space image_text --out DIR   # CLIP: config.json, weights, tokenizer, image processor
    python scripts/zero_shot_random.py --space audio_text --out DIR   # CLAP: the same with a feature extractor

The folder has the layout of a real checkpoint (``config.json`` + ``model.safetensors`` + tokenizer and processor
files), so ``triton_models/image_text`` and ``audio_text`` load it exactly as they load real weights. Seeded: the
same seed writes the same weights. Its tokenizer is WordPiece over single letters, digits and a few hundred common
words (no download needed); it tokenizes any English text.
"""

from __future__ import annotations

import argparse
import string
import sys
from pathlib import Path

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = (
    "a an the of with and in on at to is are was by for from it this that photo picture image sound noise person people man woman child "
    "car truck bus bicycle dog cat bird umbrella open boot door kettle whistling ringing phone alarm siren music speech talking "
    "walking running red blue green white black yellow street road room kitchen night day light dark loud quiet"
).split()


def write_tokenizer(out: Path, max_length: int):
    from transformers import BertTokenizerFast

    chars = list(string.ascii_lowercase + string.digits + string.punctuation)
    vocab = SPECIALS + sorted(set(WORDS)) + chars + [f"##{c}" for c in string.ascii_lowercase + string.digits]
    (out / "vocab.txt").write_text("\n".join(dict.fromkeys(vocab)) + "\n")
    tokenizer = BertTokenizerFast(vocab_file=str(out / "vocab.txt"), do_lower_case=True, model_max_length=max_length)
    tokenizer.save_pretrained(str(out))
    return tokenizer


def make_image_text(out: Path, seed: int, full_size: bool = False) -> None:
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    tokenizer = write_tokenizer(out, 32)
    if full_size:  # CLIP ViT-B/32's shapes (151 M parameters, 224 px), random: what the real model costs
        torch.manual_seed(seed)
        CLIPModel(CLIPConfig(text_config={"eos_token_id": tokenizer.sep_token_id, "pad_token_id": tokenizer.pad_token_id})).eval().save_pretrained(str(out))
        CLIPImageProcessor().save_pretrained(str(out))
        return
    text = dict(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2, max_position_embeddings=32)
    text.update(pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.cls_token_id, eos_token_id=tokenizer.sep_token_id)
    vision = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2, image_size=64, patch_size=16)
    torch.manual_seed(seed)
    model = CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=32)).eval()
    model.save_pretrained(str(out))
    CLIPImageProcessor(size={"shortest_edge": 64}, crop_size={"height": 64, "width": 64}).save_pretrained(str(out))


def make_audio_text(out: Path, seed: int, full_size: bool = False) -> None:
    import torch
    from transformers import ClapAudioConfig, ClapConfig, ClapFeatureExtractor, ClapModel, ClapTextConfig

    tokenizer = write_tokenizer(out, 32)
    if full_size:  # LAION CLAP HTSAT-unfused's shapes, random: what the real model costs
        torch.manual_seed(seed)
        ClapModel(ClapConfig(text_config={"pad_token_id": tokenizer.pad_token_id})).eval().save_pretrained(str(out))
        ClapFeatureExtractor().save_pretrained(str(out))
        return
    text = ClapTextConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2, max_position_embeddings=40,
        pad_token_id=tokenizer.pad_token_id, projection_dim=32,
    )  # fmt: skip
    audio = ClapAudioConfig(
        spec_size=256, patch_size=4, patch_stride=(4, 4), hidden_size=64, patch_embeds_hidden_size=32, depths=[1, 1], num_attention_heads=[2, 2],
        window_size=8, num_mel_bins=64, projection_dim=32, enable_fusion=False,
    )  # fmt: skip
    torch.manual_seed(seed)
    model = ClapModel(ClapConfig(text_config=text.to_dict(), audio_config=audio.to_dict(), projection_dim=32)).eval()
    model.save_pretrained(str(out))
    ClapFeatureExtractor(feature_size=64, sampling_rate=48000, max_length_s=10).save_pretrained(str(out))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--space", choices=("image_text", "audio_text"), required=True)
    parser.add_argument("--out", type=Path, required=True, help="folder to write (created)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--full-size", action="store_true", help="the real model's shapes (CLIP ViT-B/32, CLAP HTSAT), to measure its cost")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    (make_image_text if args.space == "image_text" else make_audio_text)(args.out, args.seed, args.full_size)
    print(f"wrote a random {'full-size' if args.full_size else 'small'} {args.space} model to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
