#!/bin/bash
#SBATCH --nodes=2 --ntasks-per-node=2 --time=10:00
#SBATCH --job-name=mtslurm-example
#SBATCH --output=mtslurm-example-%j.out
#
# An mtslurm cluster inside your own batch job: the master runs here, on the
# job's first node, and every task of the allocation becomes one worker
# (srun, one MPI rank each). The driver below submits a sweep, waits for it
# and looks at the results; a simulation code would use mtslurm.h instead
# (mts_connect finds the master through the run directory).
#
#   sbatch docs/examples/mtslurm-batch.sh
set -euo pipefail

# The run directory must be on a filesystem every node sees.
export MTSLURM_RUN_DIR=${MTSLURM_RUN_DIR:-$PWD/mtslurm-run-$SLURM_JOB_ID}

mtslurm start --in-allocation

# the driver: 200 commands, one job each
seq 1 200 | sed 's/^/echo sweep point /' | mtslurm submit --exec --stdin > /dev/null
mtslurm wait --all
mtslurm status
echo "nodes that ran jobs: $(mtslurm jobs --json | grep -o '"worker":"[^"-]*' | sort -u | cut -d'"' -f4 | tr '\n' ' ')"

mtslurm stop
