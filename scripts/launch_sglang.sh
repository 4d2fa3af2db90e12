#!/usr/bin/env bash
# Serve the answer VLM with SGLang (OpenAI-compatible API, streaming) on one GPU.
#
#   scripts/launch_sglang.sh                       # LLaVA-NeXT-Video-7B on GPU ${VLM_GPU:-0}, 127.0.0.1:30000
#   scripts/launch_sglang.sh --model llava-video   # LLaVA-Video-7B-Qwen2: 32k context, 64 frames (recommended)
#   scripts/launch_sglang.sh --quantization fp8 --dry-run
#   VLM_GPU=5 scripts/launch_sglang.sh             # GPU 5 in the 7-GPU layout
#
# then: VLM_BASE_URL=http://127.0.0.1:30000/v1 .venv/bin/python app.py
#
# Flags that matter for latency:
# - radix cache (SGLang's default, never disabled here): a session's follow-up starts with the whole
#   previous request (see orchestrator/answer.py), so its frames and timeline are not prefilled again;
#   --enable-cache-report makes the server say how many prompt tokens it reused
#   (usage.prompt_tokens_details.cached_tokens, shown as "cached_tokens" by `ask --json`);
# - --chunked-prefill-size: long multi-frame prompts are prefilled in chunks, so one request does
#   not stall the streams of others;
# - --attention-backend: fa3 on Hopper (H100/H200), flashinfer elsewhere (auto-detected from nvidia-smi);
# - --quantization: optional (fp8 needs Ada/Hopper; awq/gptq need a checkpoint quantized that way;
#   bitsandbytes loads 4-bit on the fly);
# - --enable-metrics: Prometheus metrics on /metrics (TTFT, queue time, cache hit rate).
#
# Needs a CUDA machine with `pip install "sglang[all]==0.5.9"` (see requirements-gpu.txt) and the
# model weights in the Hugging Face cache or at a local path (--model-path).
set -euo pipefail

usage() {
    sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'
    cat <<'EOF'
Options:
  --model NAME          llava-next-video (default) | llava-video | any Hugging Face id or local path
  --model-path PATH     weights folder or id (overrides the one --model picks)
  --gpu N               GPU index (default: $VLM_GPU or 0)
  --host H --port P     where to listen (default 127.0.0.1:30000)
  --quantization Q      fp8 | awq | gptq | bitsandbytes | ... (default: none)
  --attention-backend B fa3 | flashinfer | triton (default: fa3 on Hopper, else flashinfer)
  --mem-fraction F      static GPU memory fraction for weights + KV cache (default 0.85)
  --context-length N    (default: the model's, see below)
  --chunked-prefill N   chunked prefill size in tokens (default 8192)
  --dry-run             print the command and exit
  -- ARGS...            passed to sglang.launch_server unchanged
EOF
}

model="llava-next-video"
model_path=""
gpu="${VLM_GPU:-0}"
host="${VLM_HOST:-127.0.0.1}"
port="${VLM_PORT:-30000}"
quantization=""
attention_backend=""
mem_fraction="0.85"
context_length=""
chunked_prefill="8192"
dry_run=0
extra=()

while [[ $# -gt 0 ]]; do
    case "$1" in
        --model) model="$2"; shift 2 ;;
        --model-path) model_path="$2"; shift 2 ;;
        --gpu) gpu="$2"; shift 2 ;;
        --host) host="$2"; shift 2 ;;
        --port) port="$2"; shift 2 ;;
        --quantization) quantization="$2"; shift 2 ;;
        --attention-backend) attention_backend="$2"; shift 2 ;;
        --mem-fraction) mem_fraction="$2"; shift 2 ;;
        --context-length) context_length="$2"; shift 2 ;;
        --chunked-prefill) chunked_prefill="$2"; shift 2 ;;
        --dry-run) dry_run=1; shift ;;
        -h|--help) usage; exit 0 ;;
        --) shift; extra=("$@"); break ;;
        *) echo "error: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

[[ "$gpu" =~ ^[0-9]+$ ]] || { echo "error: --gpu / VLM_GPU must be a GPU index such as 0 or 5, got '$gpu'" >&2; exit 2; }
[[ "$port" =~ ^[0-9]+$ ]] || { echo "error: --port must be a number, got '$port'" >&2; exit 2; }
case "$quantization" in
    ""|fp8|awq|awq_marlin|gptq|gptq_marlin|marlin|bitsandbytes|w8a8_int8|w8a8_fp8|gguf|modelopt_fp8) ;;
    *) echo "error: --quantization '$quantization' is not one this script knows; use fp8, awq, gptq or bitsandbytes (or pass it after --)" >&2; exit 2 ;;
esac

template_args=()
case "$model" in
    llava-next-video)
        # Vicuna-7B, 4096 positions: linear RoPE scaling x2 gives the 8192 tokens 32 pooled frames
        # (144 tokens each) need, as LLaVA-NeXT-Video's own inference does for long frame counts
        model_path="${model_path:-lmms-lab/LLaVA-NeXT-Video-7B}"
        context_length="${context_length:-8192}"
        template_args=(--chat-template vicuna_v1.1
                       --json-model-override-args '{"rope_scaling": {"type": "linear", "factor": 2.0}}')
        ;;
    llava-video)
        model_path="${model_path:-lmms-lab/LLaVA-Video-7B-Qwen2}"
        context_length="${context_length:-32768}"
        template_args=(--chat-template chatml-llava)
        ;;
    *)
        model_path="${model_path:-$model}"  # SGLang picks the chat template from the model itself
        ;;
esac

if [[ -z "$attention_backend" ]]; then
    attention_backend="flashinfer"
    if command -v nvidia-smi >/dev/null 2>&1; then
        name="$(nvidia-smi --query-gpu=name --format=csv,noheader -i "$gpu" 2>/dev/null | head -n1 || true)"
        [[ "$name" =~ H100|H200|H800|H20|GH200 ]] && attention_backend="fa3"
    fi
fi

cmd=(python -m sglang.launch_server
     --model-path "$model_path"
     --host "$host" --port "$port"
     "${template_args[@]}"
     --attention-backend "$attention_backend"
     --chunked-prefill-size "$chunked_prefill"
     --mem-fraction-static "$mem_fraction"
     --enable-cache-report
     --enable-metrics)
[[ -n "$context_length" ]] && cmd+=(--context-length "$context_length")
[[ -n "$quantization" ]] && cmd+=(--quantization "$quantization")
cmd+=("${extra[@]}")

if [[ "$dry_run" == 1 ]]; then
    printf 'CUDA_VISIBLE_DEVICES=%s' "$gpu"
    printf ' %q' "${cmd[@]}"
    printf '\n'
    exit 0
fi

python -c 'import sglang' 2>/dev/null || {
    echo "error: sglang is not installed in this Python; on the GPU machine run: pip install \"sglang[all]==0.5.9\"" >&2; exit 1; }
echo "serving $model_path on GPU $gpu at http://$host:$port/v1 (export VLM_BASE_URL=http://$host:$port/v1)" >&2
export CUDA_VISIBLE_DEVICES="$gpu"
exec "${cmd[@]}"
