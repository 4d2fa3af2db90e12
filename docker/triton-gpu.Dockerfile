# NVIDIA's Triton container plus the Python packages of the python-backend models
# (triton_models/*/1/model.py). The model repository and the weights are mounted at run time,
# not copied in, so one image serves every layout. Built and run by scripts/start_triton_gpu.sh:
#
#   docker build -f docker/triton-gpu.Dockerfile --build-arg NGC_TAG=26.07 -t video-detective/triton-gpu:26.07 docker/
#
# NGC_TAG pins the Triton release (the -py3 image: all backends, TensorRT included).
ARG NGC_TAG=26.07
FROM nvcr.io/nvidia/tritonserver:${NGC_TAG}-py3

COPY requirements-triton-gpu.txt /opt/video-detective/requirements-triton-gpu.txt
# The python backend runs model.py with the image's system python3; Ubuntu marks it externally
# managed, and this image exists only to serve these models, so install into it directly.
RUN python3 -m pip install --no-cache-dir --break-system-packages \
        -r /opt/video-detective/requirements-triton-gpu.txt \
 && python3 -c "import ctranslate2, faster_whisper, sentence_transformers, torch, cv2, ai_edge_litert, onnx, librosa"

# model.py files read weights from here (mount $VDET_MODELS on it) and never reach a model hub.
ENV VDET_MODELS=/weights \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1
