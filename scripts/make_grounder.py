"""Write a Grounding DINO folder (transformers format) for the ``grounder`` Triton model.

Real weights (e.g. IDEA-Research/grounding-dino-tiny, saved with ``save_pretrained`` on a machine that can reach the
hub) are used as they are: point ``VDET_GROUNDER_PATH`` at their folder, or copy it to ``<models>/grounder``.
Where none exist, ``--random-small`` builds a tiny randomly initialised model with a fixed seed (a small Swin
backbone, a one-layer BERT text encoder) and the BERT uncased tokenizer of the installed MiniLM embedder, so the
serving code runs end to end through the real Triton without any download:

    python scripts/make_grounder.py --random-small --out /tmp/grounder   # ~3 M parameters, no weights needed
    VDET_GROUNDER_PATH=/tmp/grounder python -m orchestrator serve-models --models grounder embedder
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


class MakeError(RuntimeError):
    pass


def small_random_model(seed: int = 0, max_text_len: int = 64):
    """A Grounding DINO with thin layers (d_model 64, 50 queries, one encoder layer, two decoder layers: one would leave
    the tied box heads nothing to tie to), seeded."""
    import torch
    from transformers import BertConfig, GroundingDinoConfig, GroundingDinoForObjectDetection, SwinConfig

    torch.manual_seed(seed)
    backbone = SwinConfig(embed_dim=24, depths=[1, 1, 1, 1], num_heads=[1, 2, 2, 4], window_size=7, out_features=["stage2", "stage3", "stage4"])
    text = BertConfig(vocab_size=30522, hidden_size=64, num_hidden_layers=1, num_attention_heads=2, intermediate_size=128, max_position_embeddings=max_text_len)
    config = GroundingDinoConfig(
        backbone_config=backbone,
        text_config=text,
        d_model=64,
        encoder_layers=1,
        decoder_layers=2,
        encoder_ffn_dim=128,
        decoder_ffn_dim=128,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        num_queries=50,
        max_text_len=max_text_len,
    )
    return GroundingDinoForObjectDetection(config).eval()


def small_processor(tokenizer_dir: Path, shortest_edge: int, longest_edge: int):
    """The processor: Grounding DINO's image preprocessing at a small size and a BERT uncased WordPiece tokenizer
    (the vocabulary Grounding DINO's own text encoder uses; the MiniLM embedder ships it)."""
    from transformers import BertTokenizerFast, GroundingDinoImageProcessorPil, GroundingDinoProcessor

    if not (tokenizer_dir / "tokenizer.json").is_file():
        raise MakeError(f"{tokenizer_dir} has no tokenizer.json: run `make setup` (it fetches the MiniLM embedder) or pass --tokenizer DIR")
    tokenizer = BertTokenizerFast(tokenizer_file=str(tokenizer_dir / "tokenizer.json"), do_lower_case=True)
    images = GroundingDinoImageProcessorPil(size={"shortest_edge": shortest_edge, "longest_edge": longest_edge})
    return GroundingDinoProcessor(image_processor=images, tokenizer=tokenizer)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--random-small", action="store_true", required=True, help="a tiny randomly initialised model (no weights; for tests)")
    parser.add_argument("--out", required=True, help="folder to write (config.json, model.safetensors, the processor's files)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=int, default=320, help="the image processor's shortest edge in pixels (longest: 4/3 of it)")
    parser.add_argument("--tokenizer", help="folder with a BERT uncased tokenizer.json (default: the installed MiniLM embedder)")
    args = parser.parse_args(argv)
    try:
        if args.size < 64:
            raise MakeError(f"--size must be at least 64 pixels; got {args.size}")
        from orchestrator import weights  # noqa: PLC0415

        tokenizer_dir = Path(args.tokenizer) if args.tokenizer else weights.role_path("minilm")
        processor = small_processor(tokenizer_dir, args.size, args.size * 4 // 3)
        model = small_random_model(args.seed)
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(out)
        processor.save_pretrained(out)
    except MakeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    n = sum(p.numel() for p in model.parameters())
    print(f"wrote a random Grounding DINO ({n / 1e6:.1f} M parameters, images {args.size} px) to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
