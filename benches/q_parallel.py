#!/usr/bin/env python3
"""Peers of Spillway's plain parallelism (issue 5): per-task overhead and pi throughput.

    q_parallel.py --impl joblib|mp-pool|dask-delayed --mode trivial|pi
                  [--n N] [--draws D] [--workers W] [--scheduler threads|processes]

  trivial: N calls of a function that returns its argument (per-task overhead).
  pi:      N tasks, each a pure-Python Monte Carlo estimate of pi from D draws (the
           `sample` of shared/bench/q_seed.py); the estimate is their mean.
  IMPL:    joblib        Parallel(n_jobs=W)(delayed(f)(x) for x in range(N))   (loky
                         processes, batch_size="auto")
           mp-pool       multiprocessing.Pool(W).map(f, range(N))              (its default
                         chunksize, about N / (4 W))
           dask-delayed  dask.compute(*[delayed(f)(x) for x in range(N)],
                         scheduler=--scheduler, num_workers=W)                 (threads by
                         default, dask.delayed's own default; `processes` pickles each task)

Spillway's side is `examples/parallel_map.rs` (`--trivial N`, or `--tasks N --draws D`), and
its `--rayon` flag is the hand-written rayon loop.

Prints `RESULT {json}`: inner_s is the parallel part only (from the first task submitted to
the last result held in Python), setup_s the imports, total_s the whole process.

Sizes: joblib and mp-pool batch trivial tasks, so N = 10**6 takes seconds. Dask delayed
builds one graph node per task: at N = 10**6 that is a graph of a million Python objects,
several GB of memory and many minutes of scheduling (about 1 ms a task with 2 threads here,
at N = 2000), so measure it at N = 10**4 or 10**5 and compare per-task times rather than
totals.
"""
import argparse
import json
import os
import random
import time

T_START = time.time()


def ident(x):
    """The trivial task."""
    return x


def sample(n):
    """Pure-Python Monte Carlo estimate of pi from n random points in the unit square."""
    inside = 0
    for _ in range(n):
        x = random.random()
        y = random.random()
        if x * x + y * y <= 1.0:
            inside += 1
    return 4.0 * inside / n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--impl", required=True, choices=["joblib", "mp-pool", "dask-delayed"])
    ap.add_argument("--mode", required=True, choices=["trivial", "pi"])
    ap.add_argument("--n", type=int, default=None,
                    help="tasks (default: 10**6 for trivial, 64 for pi)")
    ap.add_argument("--draws", type=int, default=10 ** 6, help="draws per pi task")
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--scheduler", default="threads", choices=["threads", "processes"],
                    help="dask's scheduler (dask-delayed only)")
    a = ap.parse_args()
    n = a.n if a.n is not None else (10 ** 6 if a.mode == "trivial" else 64)

    if a.impl == "joblib":
        from joblib import Parallel, delayed
    elif a.impl == "mp-pool":
        import multiprocessing as mp
    else:
        import dask
        from dask import delayed
    setup = time.time() - T_START

    if a.mode == "trivial":
        f, args = ident, range(n)
    else:
        f, args = sample, [a.draws] * n

    t0 = time.time()
    if a.impl == "joblib":
        out = Parallel(n_jobs=a.workers)(delayed(f)(x) for x in args)
    elif a.impl == "mp-pool":
        with mp.Pool(a.workers) as pool:
            out = pool.map(f, args)
    else:
        lazy = [delayed(f)(x) for x in args]
        out = list(dask.compute(*lazy, scheduler=a.scheduler, num_workers=a.workers))
    inner = time.time() - t0

    engine = a.impl if a.impl != "dask-delayed" else f"dask-delayed-{a.scheduler}"
    record = {"engine": engine, "query": f"parallel-{a.mode}", "tasks": n, "workers": a.workers,
              "setup_s": round(setup, 3), "inner_s": round(inner, 4),
              "per_task_us": round(inner * 1e6 / max(n, 1), 3)}
    if a.mode == "trivial":
        record["correct"] = list(out) == list(range(n))
    else:
        record["draws"] = a.draws
        record["pi"] = sum(out) / len(out)
    record["total_s"] = round(time.time() - T_START, 3)
    print("RESULT " + json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
