#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install the Debian 12 packages only `make bench` uses, if missing: the
# peers the figures are compared with (tests/bench/peers.sh) -- mpi4py's
# futures executor, Work Queue (cctools) and GNU parallel. `make check`
# never needs them, so they are kept out of tests/deps.sh; tests/deps.sh
# installs them here through its argument list, with its own checks.
set -euo pipefail
exec bash "$(dirname "$0")/../deps.sh" python3-mpi4py coop-computing-tools coop-computing-tools-dev parallel "$@"

