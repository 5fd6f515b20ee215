"""Benchmark: one exhibit across Dask workers (issue 18): 1 worker vs 2, task overhead, bytes per item, and a
simulated 8- and 32-worker run.

1. Exhibit: bench_triage's generated tree (photo-sized files: JPEG header + seeded random bytes) as an ext4 image
   (``mkfs.ext4 -d``), both reused by manifest under bench/out/. Default 2 500 files / 300 MB so that it runs in
   a few minutes on the 2-core machine; ``--files 20000 --total 2400000000`` is the issue's tree. A synthetic
   md5sum list (100 000 random MD5s + the MD5s of 50 tree files) is imported as an illicit set (not timed).
2. Real runs, full profile, each a ``safenet triage IMAGE --profile full --hashset benchset`` child process,
   warm page cache, timed whole (listing, examining, recording, the audit's closing line):
     local inline (1 core) and local processes (2 workers), once each, for reference;
     Dask: two clusters on loopback at once, each a ``dask scheduler`` with 1 or 2 ``dask worker --nthreads 1``
     processes; one untimed run on each, then ``--repeat`` rounds alternating between them (median).
   Every run's case is checked against the inline run's: the same items with the same digests, 50 hits.
   On this machine the 2 cores are shared by the coordinator, the scheduler and the workers.
3. Overhead: empty tasks per second through the scheduler (``client.map`` of a no-op, gathered) and through the
   executor (``DaskExecutor.submit(())`` in ``run_ordered``'s window); bytes moved per item: the pickled items
   sent and results returned, per item, over the exhibit's real batches (a sample of them, examined in-process,
   which also gives the stage's own seconds per item).
4. Simulation (on a second generated image of ``--sim-files`` small files, 20 000 by default, so that 32 workers
   run long enough to show a pace): a scheduler and 2, 8 or 32 worker threads (in at most 4 worker processes:
   sleeping releases the GIL) whose stage sleeps for the measured per-item seconds and returns records shaped
   like real ones
   (bench/scale_sim.py); the coordinator is this process, running the real triage (listing the real image,
   matching against the real set, recording the case). Reported: items/s of the examine phase, the
   coordinator's CPU per item, and a zero-cost run (workers that do not sleep): the coordinator's ceiling.
   Also at 32: batches of 256 items instead of 64 (fewer tasks for the scheduler).
5. Prints tables (``--markdown``: as Markdown) and one JSON line. Exit status 0 when every run succeeded and
   every check passed (speed is measured, not asserted).

``--part regions`` measures only the splitting of large regions (``engine.split``): a sparse FAT32 image of
``--region-mb`` (1 024 by default) whose free space is zeros with ``--region-jpegs`` benign JPEGs written at
seeded sector starts, triaged in the full profile (its unallocated space carved) inline, on 2 worker processes
with the region split into 256 MiB ranges (the default), and on 2 worker processes unsplit (the split size
turned up for that run); ``--repeat`` rounds, interleaved, median. CPU counts every process of a run (the
bench is the child subreaper, as in bench_executors). Every run's case must equal the inline run's.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import pickle
import random
import resource
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from PIL import Image

import bench_image
from bench_executors import become_subreaper, reap_orphans
from bench_triage import ensure_tree, safenet_bin, write_hashlist
from benchlib import BENCH_DIR, OUT_DIR, ROOT, VENV_BIN, host_info, print_table, run_child, run_logged

GOAL = 1.7
SCALE_DIR = OUT_DIR / "scale"
#: A cluster's processes by its address, for the CPU each run takes of the scheduler and of the workers
CLUSTER_PIDS: dict[str, tuple[int, int]] = {}


def tree_cpu(pid: int) -> float:
    """User + system CPU seconds of a process and its descendants (a worker command's nanny and workers)."""
    import psutil  # Dask's own dependency

    try:
        root = psutil.Process(pid)
        total = 0.0
        for proc in (root, *root.children(recursive=True)):
            try:
                times = proc.cpu_times()
            except psutil.Error:
                continue
            total += times.user + times.system
        return total
    except psutil.Error:
        return 0.0


def cluster_cpu(address: str) -> tuple[float, float]:
    """CPU seconds used so far by the scheduler and by the workers of the cluster at ``address``."""
    scheduler, workers = CLUSTER_PIDS[address]
    return tree_cpu(scheduler), tree_cpu(workers)


# -- a cluster on loopback ---------------------------------------------------------------------------------


@contextmanager
def cluster(workers: int, threads: int, env: dict[str, str], work: Path) -> Iterator[str]:
    """A ``dask scheduler`` and ``workers`` worker processes of ``threads`` threads; yields its address."""
    from distributed import Client

    scheduler_file = work / f"scheduler-{time.monotonic_ns()}.json"
    host = ["--host", "127.0.0.1", "--no-dashboard", "--scheduler-file", str(scheduler_file)]
    dask = str(VENV_BIN / "dask")
    log = open(work / "cluster.log", "ab")  # noqa: SIM115 - closed below, after the processes
    procs = [subprocess.Popen([dask, "scheduler", "--port", "0", *host], env=env, stdout=log, stderr=log)]
    try:
        while not scheduler_file.exists():
            time.sleep(0.1)
        worker = [dask, "worker", "--nworkers", str(workers), "--nthreads", str(threads), "--memory-limit", "0"]
        procs.append(subprocess.Popen([*worker, *host], env=env, stdout=log, stderr=log))
        with Client(scheduler_file=str(scheduler_file), set_as_default=False) as client:
            client.wait_for_workers(workers, timeout=300)
            address = client.scheduler.address
        CLUSTER_PIDS[address] = (procs[0].pid, procs[1].pid)
        yield address
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()


# -- real runs ---------------------------------------------------------------------------------------------


def triage_child(image: Path, case: Path, env: dict[str, str], extra: list[str]) -> dict[str, Any]:
    if case.exists():
        shutil.rmtree(case)
    cmd = [str(safenet_bin()), "triage", str(image), "--case", str(case), "--exhibit", "B1", "--profile", "full"]
    cmd += ["--hashset", "benchset", *extra]
    return run_logged(cmd, case.with_suffix(".log"), env=env)


def case_rows(case: Path) -> tuple[list[tuple[Any, ...]], int]:
    with sqlite3.connect(case / "case.db") as db:
        items = list(db.execute("SELECT locator, status, md5, sha1, sha256 FROM items ORDER BY id"))
        (hits,) = db.execute("SELECT COUNT(*) FROM findings").fetchone()
    return items, hits


# -- overhead and bytes --------------------------------------------------------------------------------------


def _noop(x: int) -> int:
    return x


def task_overhead(address: str, tasks: int, image: Path) -> dict[str, float]:
    """Empty tasks per second: Dask alone, then through the executor's bridge and window."""
    from distributed import Client

    from safenet.engine.cluster import ClusterTarget
    from safenet.engine.dask_executor import DaskExecutor
    from safenet.engine.executors import StagePlan, WorkerSetup
    from safenet.engine.profiles import Profile
    from safenet.evidence.registry import open_source

    with Client(address, set_as_default=False) as client:
        client.gather(client.map(_noop, range(100), pure=False))  # warm
        started = time.perf_counter()
        client.gather(client.map(_noop, range(tasks), pure=False))
        raw = tasks / (time.perf_counter() - started)
        setup = WorkerSetup(image, StagePlan(Profile.QUICK, ("md5",)))
        with DaskExecutor.for_run(ClusterTarget(address), setup, open_source(image), client) as executor:
            window = []
            started = time.perf_counter()
            for _ in range(tasks):
                if len(window) >= executor.in_flight:
                    window.pop(0).result()
                window.append(executor.submit(()))
            for future in window:
                future.result()
            bridged = tasks / (time.perf_counter() - started)
    return {"dask_empty_tasks_per_s": round(raw), "executor_empty_tasks_per_s": round(bridged)}


@contextmanager
def dataclasses_own_pickling() -> Iterator[None]:
    """Safenet's values pickled by the state ``dataclasses`` generates (a list from ``fields()`` on every object),
    as before ``safenet.wire.by_position``: the peer of the pickling figures."""
    import dataclasses

    get, put = dataclasses._dataclass_getstate, dataclasses._dataclass_setstate  # type: ignore[attr-defined]
    swapped = {
        cls: (cls.__getstate__, cls.__setstate__)
        for name, module in list(sys.modules.items())
        if name.startswith("safenet.")
        for cls in vars(module).values()
        if isinstance(cls, type) and getattr(getattr(cls, "__getstate__", None), "__module__", "") == "safenet.wire"
    }
    try:
        for cls in swapped:
            cls.__getstate__, cls.__setstate__ = get, put
        yield
    finally:
        for cls, (own_get, own_put) in swapped.items():
            cls.__getstate__, cls.__setstate__ = own_get, own_put


def pickling_us(values: list[Any], items: int) -> tuple[float, float]:
    """Microseconds per item to pickle ``values`` (one task's batch or results each) and to unpickle them."""
    rounds = 5
    started = time.perf_counter()
    for _ in range(rounds):
        blobs = [pickle.dumps(v, protocol=5) for v in values]
    dumped = time.perf_counter()
    for _ in range(rounds):
        for blob in blobs:
            pickle.loads(blob)
    loaded = time.perf_counter()
    per = 1e6 / rounds / items
    return round((dumped - started) * per, 1), round((loaded - dumped) * per, 1)


def bytes_and_cost(image: Path, db: Path, sample_batches: int) -> dict[str, Any]:
    """Pickled bytes per item each way over a sample of the Dask runs' batches, the time to pickle and unpickle
    them (by position, and by ``dataclasses``' own state for comparison), and the stage's seconds per item."""
    from safenet.engine.dask_executor import DASK_BATCH_BYTES, DASK_BATCH_ITEMS
    from safenet.engine.executors import StagePlan, WorkerSetup, batches, open_stage
    from safenet.engine.ordering import order
    from safenet.engine.profiles import Profile
    from safenet.evidence.model import OpenContext
    from safenet.evidence.registry import open_source
    from safenet.hashsets.store import HashSetStore

    evidence = open_source(image, OpenContext(unallocated=True))
    items = order(evidence.items(lambda w: None))
    store = HashSetStore(db)
    matcher = store.matcher(["benchset"])
    plan = StagePlan(Profile.FULL, ("md5", "sha1", "sha256", "ed2k"))
    setup = WorkerSetup(image, plan, OpenContext(unallocated=True), matcher.sources)
    stage = open_stage(setup)
    all_batches = list(batches(items, DASK_BATCH_ITEMS, DASK_BATCH_BYTES))
    step = max(1, len(all_batches) // sample_batches)
    sent = back = n = 0
    seconds = 0.0
    sampled: list[Any] = []
    outcomes: list[Any] = []
    for batch in all_batches[::step]:
        sent += len(pickle.dumps(batch, protocol=5))
        started = time.perf_counter()
        results = stage.run(batch)
        seconds += time.perf_counter() - started
        back += len(pickle.dumps(results, protocol=5))
        n += len(batch)
        sampled.append(batch)
        outcomes.append(results)
    items_us, results_us = pickling_us(sampled, n), pickling_us(outcomes, n)
    with dataclasses_own_pickling():
        items_before, results_before = pickling_us(sampled, n), pickling_us(outcomes, n)
    return {
        "pickle_us_per_item": {
            "items (dumps, loads)": items_us,
            "results (dumps, loads)": results_us,
            "items, dataclasses' own state": items_before,
            "results, dataclasses' own state": results_before,
        },
        "items": len(items),
        "tasks": len(all_batches),
        "sampled_items": n,
        "bytes_to_worker_per_item": round(sent / n),
        "bytes_back_per_item": round(back / n),
        "setup_bytes_once_per_worker": len(pickle.dumps(setup, protocol=5)),
        "stage_s_per_item": seconds / n,
    }


# -- simulation --------------------------------------------------------------------------------------------


class _Timing:
    """The examine phase's pace: from the first result taken to the last (the cluster's connection, the plugin's
    registration and the first batch's round trip are fixed costs of a run, not of its pace)."""

    def __init__(self) -> None:
        self.first_at = self.last_at = 0.0
        self.items = self.after_first = 0

    def planned(self, items: int, total_bytes: int) -> None:
        pass

    def advanced(self, items: int, bytes_read: int) -> None:
        now = time.perf_counter()
        if not self.items:
            self.first_at = now
        else:
            self.after_first += items
        self.items += items
        self.last_at = now

    def hit(self, hit: object) -> None:
        pass

    def known_record(self, record: object) -> None:
        pass


def simulate(
    image: Path, db: Path, work: Path, slots: int, seconds: float, env: dict[str, str], batch: int
) -> dict[str, Any]:
    import scale_sim
    from safenet.case.store import Case
    from safenet.engine import dask_executor
    from safenet.engine.cluster import ClusterTarget
    from safenet.engine.executors import ExecutorKind
    from safenet.engine.profiles import Profile
    from safenet.engine.triage import TriageOptions, triage
    from safenet.hashsets.store import HashSetStore

    processes = min(slots, 4)
    sim_env = {**env, "SAFENET_SIM_ITEM_SECONDS": str(seconds), "PYTHONPATH": f"{BENCH_DIR}:{ROOT}"}
    original, original_batch = dask_executor.open_stage, dask_executor.DaskExecutor.batch_items
    with cluster(processes, slots // processes, sim_env, work) as address:
        dask_executor.open_stage = scale_sim.sleeping_stage  # type: ignore[assignment]
        dask_executor.DaskExecutor.batch_items = batch
        try:
            case_dir = work / f"sim-{slots}-{seconds:.4f}-{batch}"
            if case_dir.exists():
                shutil.rmtree(case_dir)
            case = Case.create_or_open(case_dir)
            timing = _Timing()
            options = TriageOptions(
                exhibit="S",
                profile=Profile.FULL,
                hashsets=("benchset",),
                operator="bench",
                executor=ExecutorKind.DASK,
                cluster=ClusterTarget(address),
            )
            cpu0 = resource.getrusage(resource.RUSAGE_SELF)
            outcome = triage(image, case, HashSetStore(db), options, timing)
            cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        finally:
            dask_executor.open_stage = original
            dask_executor.DaskExecutor.batch_items = original_batch
    examine_s = timing.last_at - timing.first_at
    cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
    ideal = timing.after_first * seconds / slots
    return {
        "slots": slots,
        "item_s": seconds,
        "batch": batch,
        "items": timing.items,
        "examine_s": round(examine_s, 2),
        "whole_run_s": round(outcome.seconds, 2),
        "items_per_s": round(timing.after_first / examine_s) if examine_s else None,
        "ideal_items_per_s": round(slots / seconds) if seconds else None,
        "efficiency": round(ideal / examine_s, 2) if examine_s and seconds else None,
        "coordinator_cpu_ms_per_item": round(1000 * cpu / max(1, timing.items), 3),
        "status": outcome.status.value,
    }


# -- main --------------------------------------------------------------------------------------------------


def simulations(args: argparse.Namespace, work: Path, cost: float, env: dict[str, str]) -> list[dict[str, Any]]:
    # More items than the real exhibit, so that 32 workers run long enough to show a pace: small files (the
    # simulated stage reads nothing; the coordinator lists them from a real image all the same)
    sim_tree, sim_paths, sim_sizes, _, _ = ensure_tree(args.sim_files, args.sim_files * 12_000, args.seed)
    sim_image, how = bench_image.build_image("ext4", sim_tree, sum(sim_sizes))
    assert sim_image is not None, how
    print(f"simulation exhibit: {sim_image} ({len(sim_paths):,} files; image {how})", flush=True)
    sims = [simulate(sim_image, work / "db", work, slots, cost, env, 64) for slots in (2, 8, 32)]
    sims.append(simulate(sim_image, work / "db", work, 32, 0.0, env, 64))
    sims.append(simulate(sim_image, work / "db", work, 32, cost, env, 256))

    return sims


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2500)
    parser.add_argument("--total", type=int, default=300_000_000)
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--tasks", type=int, default=2000, help="empty tasks for the overhead figure")
    parser.add_argument("--sample-batches", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=3, help="interleaved runs per cluster size (median)")
    parser.add_argument("--sim-files", type=int, default=20_000, help="files of the simulation's exhibit")
    parser.add_argument("--skip-local", action="store_true", help="no local reference runs (inline, processes)")
    parser.add_argument("--skip-sim", action="store_true", help="no simulated 2/8/32-worker runs")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--part", choices=("all", "regions"), default="all", help="regions: only large regions")
    parser.add_argument("--region-mb", type=int, default=1024, help="--part regions: the image's size")
    parser.add_argument("--region-jpegs", type=int, default=2000, help="--part regions: JPEGs in its free space")
    args = parser.parse_args()
    if args.part == "regions":
        return regions(args)

    setattr(bench_image, "IMAGE_DIR", SCALE_DIR)  # noqa: B010 - its image goes beside this bench's other files
    tree, paths, sizes, _, _ = ensure_tree(args.files, args.total, args.seed)
    image, how = bench_image.build_image("ext4", tree, sum(sizes))
    assert image is not None, how
    print(f"exhibit: {image} ({len(paths):,} files, {sum(sizes) / 1e6:.0f} MB; image {how})", flush=True)
    work = Path(tempfile.mkdtemp(prefix="bench-scale-", dir=SCALE_DIR))
    env = {**os.environ, "SAFENET_HASHDB": str(work / "db"), "PYTHONPATH": str(ROOT)}
    hashlist, expected = write_hashlist(tree, paths, args.seed, work)
    imported = run_child(
        [str(safenet_bin()), "hashset", "import", str(hashlist), "--name", "benchset", "--kind", "illicit"], env=env
    )
    assert imported.returncode == 0, "hash-set import failed"
    ok = True
    runs: dict[str, dict[str, Any]] = {}
    reference: list[list[tuple[Any, ...]]] = []  # the first run's items: every other run must record the same

    def check(name: str, result: dict[str, Any], case: Path) -> None:
        nonlocal ok
        runs[name] = result
        if result["rc"] != 0:
            ok = False
            print(f"{name}: failed\n{result.get('error', '')}", flush=True)
            return
        items, hits = case_rows(case)
        result["items"], result["hits"] = len(items), hits
        if not reference:
            reference.append(items)
        result["same_as_reference"] = reference[0] == items and hits == len(expected)
        ok = ok and result["same_as_reference"]
        print(f"{name}: {result['wall_s']:.1f} s, {len(items)} items, {hits} hits", flush=True)

    if not args.skip_local:
        check("local inline", triage_child(image, work / "inline", env, ["--executor", "inline"]), work / "inline")
        check(
            "local processes x2",
            triage_child(image, work / "proc", env, ["--executor", "processes", "--workers", "2"]),
            work / "proc",
        )
    # Both clusters up at once, runs interleaved (1, 2, 1, 2 ...): load from elsewhere falls on both alike
    with cluster(1, 1, env, work) as one, cluster(2, 1, env, work) as two:
        addresses = {"dask 1 worker": one, "dask 2 workers": two}
        for address in addresses.values():
            triage_child(image, work / "warm", env, ["--cluster", address])  # workers import the stage once
        timed: dict[str, list[dict[str, Any]]] = {name: [] for name in addresses}
        for _ in range(args.repeat):
            for name, address in addresses.items():
                case = work / name.replace(" ", "-")
                scheduler_before, workers_before = cluster_cpu(address)
                result = triage_child(image, case, env, ["--cluster", address])
                scheduler_after, workers_after = cluster_cpu(address)
                result["scheduler_cpu_s"] = round(scheduler_after - scheduler_before, 2)
                result["workers_cpu_s"] = round(workers_after - workers_before, 2)
                result["load1"] = round(os.getloadavg()[0], 1)
                check(name, result, case)
                timed[name].append(result)
        for name, results in timed.items():
            walls = sorted(r["wall_s"] for r in results)
            middle = len(walls) // 2
            cpu = {
                key: sorted(r[key] for r in results)[middle] for key in ("cpu_s", "scheduler_cpu_s", "workers_cpu_s")
            }
            runs[name] = {**results[-1], **cpu, "wall_s": walls[middle], "walls": walls}
        overhead = task_overhead(two, args.tasks, image)
    speedup = runs["dask 1 worker"]["wall_s"] / runs["dask 2 workers"]["wall_s"]

    measured = bytes_and_cost(image, work / "db", args.sample_batches)
    cost = measured["stage_s_per_item"]
    sims: list[dict[str, Any]] = []
    if not args.skip_sim:
        sims = simulations(args, work, cost, env)

    rows = [
        (
            n,
            f"{r['wall_s']:.1f}",
            " ".join(f"{w:.1f}" for w in r.get("walls", [r["wall_s"]])),
            r.get("cpu_s", ""),
            r.get("scheduler_cpu_s", "-"),
            r.get("workers_cpu_s", "-"),
            r.get("items", ""),
            r.get("hits", ""),
            r.get("same_as_reference", ""),
        )
        for n, r in runs.items()
    ]
    headers = (
        "run (full profile)",
        "wall s (median)",
        "each run",
        "CPU s: safenet",
        "scheduler",
        "workers",
        "items",
        "hits",
        "same case",
    )
    sim_headers = (
        "slots",
        "item ms",
        "batch",
        "examine s",
        "items/s",
        "ideal items/s",
        "efficiency",
        "coord. CPU ms/item",
    )
    sim_rows = [
        (
            s["slots"],
            f"{1000 * s['item_s']:.2f}",
            s["batch"],
            s["examine_s"],
            s["items_per_s"],
            s["ideal_items_per_s"] or "-",
            s["efficiency"] or "-",
            s["coordinator_cpu_ms_per_item"],
        )
        for s in sims
    ]
    emit = markdown_table if args.markdown else print_table
    print()
    emit(headers, rows)
    print(f"\n2 workers vs 1: {speedup:.2f}x (goal {GOAL}x); load average now {os.getloadavg()[0]:.1f} on 2 cores")
    one, two = runs["dask 1 worker"], runs["dask 2 workers"]
    if one.get("workers_cpu_s") and two.get("workers_cpu_s"):
        # On cores shared by the coordinator, the scheduler and the workers, no run is shorter than all their CPU
        # spread evenly over the cores: that bounds what the second worker can gain over the first.
        total = two["cpu_s"] + two["scheduler_cpu_s"] + two["workers_cpu_s"]
        shared = total / (os.cpu_count() or 1)
        print(
            f"CPU of the 2-worker run, all processes: {total:.1f} s on {os.cpu_count()} cores, so at least "
            f"{shared:.1f} s of wall time; the 1-worker run took {one['wall_s']:.1f} s: "
            f"the most 2 workers can gain here is {one['wall_s'] / shared:.2f}x"
        )
    print(
        f"empty tasks/s: Dask {overhead['dask_empty_tasks_per_s']}, through the executor "
        f"{overhead['executor_empty_tasks_per_s']}; bytes per item: {measured['bytes_to_worker_per_item']} sent, "
        f"{measured['bytes_back_per_item']} back (setup {measured['setup_bytes_once_per_worker']} B once per worker); "
        f"stage {1000 * cost:.2f} ms/item over {measured['sampled_items']} sampled items"
    )
    print(
        "pickling, µs per item (dumps, loads): "
        + "; ".join(f"{what} {dumps} and {loads}" for what, (dumps, loads) in measured["pickle_us_per_item"].items())
        + "\n"
    )
    emit(sim_headers, sim_rows)
    print(
        json.dumps(
            {
                "bench": "scale",
                "host": host_info(),
                "files": len(paths),
                "bytes": sum(sizes),
                "runs": runs,
                "speedup_2_vs_1": round(speedup, 2),
                "overhead": overhead,
                "measured": measured,
                "simulated": sims,
                "ok": ok,
            }
        )
    )
    shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


# -- large regions split into byte ranges (--part regions) ---------------------------------------------------

#: A triage with the split size turned up, so that the region is one task (``safenet triage`` has no such option)
_UNSPLIT = "from safenet.engine import split; split.SPLIT_BYTES = 1 << 62; from safenet.cli import run; run()"


def region_image(mb: int, jpegs: int, seed: int) -> Path:
    """A sparse FAT32 image of ``mb`` MiB, its free space zeros and ``jpegs`` benign JPEGs at sector starts."""
    image = SCALE_DIR / f"regions-{mb}m-{jpegs}j-{seed}.img"
    if image.exists():
        return image
    SCALE_DIR.mkdir(parents=True, exist_ok=True)
    building = image.with_suffix(".part")
    subprocess.run(["truncate", "-s", f"{mb}M", str(building)], check=True)
    subprocess.run(["mkfs.vfat", "-F", "32", "-n", "REGIONS", str(building)], check=True, capture_output=True)
    with open(building, "r+b") as fh:
        boot = fh.read(512)
        sector, per_cluster, reserved, fats = struct.unpack("<HBHB", boot[11:17])
        (fat_sectors,) = struct.unpack("<I", boot[36:40])
        first = (reserved + fats * fat_sectors) * sector + 64 * per_cluster * sector  # past the root folder
        rng = random.Random(seed)
        sectors = (mb * 1024 * 1024 - first) // 512 - 128
        for at in sorted(rng.sample(range(0, sectors, 128), jpegs)):  # 64 KiB apart at least
            buf = io.BytesIO()
            pixels = bytes(rng.getrandbits(8) for _ in range(48 * 32 * 3))
            Image.frombytes("RGB", (48, 32), pixels).resize((320, 240)).save(buf, format="JPEG", quality=85)
            fh.seek(first + at * 512)
            fh.write(buf.getvalue())
    building.rename(image)
    return image


def regions(args: argparse.Namespace) -> int:
    subreaper = become_subreaper()
    image = region_image(args.region_mb, args.region_jpegs, args.seed)
    print(f"region image: {image} ({args.region_mb} MiB, {args.region_jpegs} JPEGs in its free space)", flush=True)
    work = Path(tempfile.mkdtemp(prefix="bench-regions-", dir=SCALE_DIR))
    env = {**os.environ, "SAFENET_HASHDB": str(work / "db"), "PYTHONPATH": str(ROOT)}
    base = ["triage", str(image), "--exhibit", "R1", "--profile", "full"]
    runs = {
        "inline": [str(safenet_bin()), *base, "--executor", "inline"],
        "2 processes, split": [str(safenet_bin()), *base, "--executor", "processes", "--workers", "2"],
        "2 processes, unsplit": [
            str(VENV_BIN / "python"), "-c", _UNSPLIT, *base, "--executor", "processes", "--workers", "2",
        ],
    }  # fmt: skip
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in runs}
    reference: list[list[tuple[Any, ...]]] = []
    ok = True
    for _ in range(args.repeat):
        for name, cmd in runs.items():
            case = work / name.replace(" ", "-").replace(",", "")
            if case.exists():
                shutil.rmtree(case)
            result = run_logged([*cmd, "--case", str(case)], case.with_suffix(".log"), env=env)
            result["cpu_s"] = round(result["cpu_s"] + reap_orphans(), 2)
            result["load1"] = round(os.getloadavg()[0], 1)
            if result["rc"] != 0:
                ok = False
                print(f"{name}: failed\n{result.get('error', '')}", flush=True)
                continue
            items, _ = case_rows(case)
            if not reference:
                reference.append(items)
            result["items"], result["same_case"] = len(items), items == reference[0]
            ok = ok and result["same_case"]
            print(f"{name}: {result['wall_s']:.1f} s wall, {result['cpu_s']:.1f} s CPU, {len(items)} items", flush=True)
            results[name].append(result)
    rows = []
    for name, done in results.items():
        walls = sorted(r["wall_s"] for r in done)
        cpus = sorted(r["cpu_s"] for r in done)
        mid = len(done) // 2
        rows.append(
            (name, walls[mid] if done else "-", cpus[mid] if done and subreaper else "-",
             " ".join(f"{w:.1f}" for w in walls), done[-1]["items"] if done else "-",
             all(r["same_case"] for r in done) if done else False)
        )  # fmt: skip
    emit = markdown_table if args.markdown else print_table
    print()
    emit(("run (full profile)", "wall s (median)", "CPU s (median)", "each run", "items", "same case"), rows)
    print(f"load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (shared machine)")
    print(json.dumps({"bench": "scale-regions", "host": host_info(), "runs": results, "ok": ok}))
    shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


def markdown_table(headers: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    print("| " + " | ".join(headers) + " |")
    print("|" + "|".join("---" for _ in headers) + "|")
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")


if __name__ == "__main__":
    sys.path.insert(0, str(BENCH_DIR))
    sys.exit(main())
