#!/usr/bin/env bash
# The vLLM venv installer ships inside the package (deft/serve/install_vllm.sh, so an installed deft has
# it too); this keeps the deployment-side path. Usage: bash serve/install_vllm.sh VENV_DIR [PYTHON]
exec bash "$(dirname "${BASH_SOURCE[0]}")/../deft/serve/install_vllm.sh" "$@"
