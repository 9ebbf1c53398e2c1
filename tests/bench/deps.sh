#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install the Debian 12 packages only `make bench` uses, if missing: the
# peers the figures are compared with (tests/bench/peers.sh) -- mpi4py's
# futures executor, Work Queue (cctools: its worker, and the -dev package
# for the C API tests/bench/peers/wq_true.c links) and GNU parallel. `make
# check` never needs them, so they are not in tests/deps.sh's list; they
# are handed to it as extra names (its checks, its apt-get).
set -euo pipefail
exec bash "$(dirname "$0")/../deps.sh" python3-mpi4py coop-computing-tools coop-computing-tools-dev parallel "$@"

