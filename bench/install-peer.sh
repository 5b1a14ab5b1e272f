#!/usr/bin/env bash
# Installs the benchmark peers: Debian's PyTorch and numpy with the multi-threaded OpenBLAS
# (without libopenblas0-pthread Debian's numpy/torch fall back to the reference BLAS, ~30x slower).
set -euo pipefail
if /usr/bin/python3 -c 'import numpy, torch' 2>/dev/null && ldconfig -p | grep -q libopenblas; then exit 0; fi
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-torch python3-numpy libopenblas0-pthread
