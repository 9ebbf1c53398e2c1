#!/bin/bash
#PBS -N mtslurm-example
#PBS -l select=2:ncpus=2:mpiprocs=2
#PBS -l walltime=00:10:00
#PBS -j oe
#
# An mtslurm cluster inside your own PBS job: the master runs here, on the
# job's first host, and every line of $PBS_NODEFILE (a slot: mpiprocs per
# chunk) becomes one worker, started by Open MPI's mpirun on the node
# file's hosts. The driver below submits a sweep, waits for it and looks
# at the results; a simulation code would use mtslurm.h instead
# (mts_connect finds the master through the run directory).
#
#   qsub docs/examples/mtslurm-pbs.sh
#
# On Torque, ask with `#PBS -l nodes=2:ppn=2` instead of select. Under
# Slurm's PBS wrappers (slurm-wlm-torque) the job is a Slurm job and sees
# only SLURM_* variables: the same script then runs the workers with srun.
set -euo pipefail

# PBS starts the script in $HOME: go where qsub ran. The run directory
# must be on a filesystem every host sees.
cd "${PBS_O_WORKDIR:-$PWD}"
export MTSLURM_RUN_DIR=${MTSLURM_RUN_DIR:-$PWD/mtslurm-run-${PBS_JOBID:-$SLURM_JOB_ID}}

mtslurm start --in-allocation

# the driver: 200 commands, one job each
seq 1 200 | sed 's/^/echo sweep point /' | mtslurm submit --exec --stdin > /dev/null
mtslurm wait --all
mtslurm status
echo "nodes that ran jobs: $(mtslurm jobs --json | grep -o '"worker":"[^"-]*' | sort -u | cut -d'"' -f4 | tr '\n' ' ')"

mtslurm stop
