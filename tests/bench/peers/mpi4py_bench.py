# SPDX-License-Identifier: MIT
"""mpi4py.futures, the peer of `make bench` (tests/bench/peers.sh): the
same two figures as bench_echo and bench_rtt, measured on an
MPIPoolExecutor whose workers are the other ranks of one mpirun.

  mpirun -n W+1 python3 -m mpi4py.futures mpi4py_bench.py echo N CHUNK
      N echo calls through executor.map(chunksize=CHUNK); prints
      "rate JOBS_PER_S elapsed S"
  mpirun -n W+1 python3 -m mpi4py.futures mpi4py_bench.py rtt N
      submit one call, wait for its result, N times; prints
      "median US p99 US"

A call is the function echo (returns its argument, b"ping"), the closest
thing to mtslurm's echo job type. Timing starts after one warm-up round
through every worker, so connecting the pool is not counted."""
import sys
import time

from mpi4py import MPI
from mpi4py.futures import MPIPoolExecutor


def echo(x):
    return x


def warm(ex, workers):
    # every worker answers once before the clock starts
    assert list(ex.map(echo, [b"ping"] * (4 * workers))) == [b"ping"] * (4 * workers)


def bench_echo(ex, n, chunk):
    t0 = time.perf_counter()
    got = 0
    for r in ex.map(echo, [b"ping"] * n, chunksize=chunk):
        got += r == b"ping"
    dt = time.perf_counter() - t0
    if got != n:
        sys.exit(f"mpi4py_bench: {got} of {n} results were right")
    print(f"rate {n / dt:.0f} elapsed {dt:.3f}")


def bench_rtt(ex, n):
    t = []
    for _ in range(n):
        a = time.perf_counter()
        if ex.submit(echo, b"ping").result() != b"ping":
            sys.exit("mpi4py_bench: wrong result")
        t.append((time.perf_counter() - a) * 1e6)
    t.sort()
    print(f"median {t[n // 2]:.0f} p99 {t[int(n * 0.99)]:.0f}")


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("echo", "rtt"):
        sys.exit("usage: mpi4py_bench.py echo N CHUNK | rtt N")
    n = int(sys.argv[2])
    with MPIPoolExecutor() as ex:
        # `-m mpi4py.futures`: every rank but this one is a worker
        workers = MPI.COMM_WORLD.Get_size() - 1
        warm(ex, workers)
        if sys.argv[1] == "echo":
            bench_echo(ex, n, int(sys.argv[3]) if len(sys.argv) > 3 else 50)
        else:
            bench_rtt(ex, n)


if __name__ == "__main__":
    main()
