"""A real Dask cluster on loopback: a ``dask scheduler`` and two ``dask worker`` processes started here.

The scheduler runs with ``allowed-failures`` 1, as the lab's does (docs/architecture.md): a task is tried on two
workers before it comes back as lost. Results must equal a local run's; a worker killed mid-run changes nothing;
a file that kills every worker it reaches becomes the ``worker-crashed`` warning, as with worker processes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from distributed import Client

from safenet.case.records import ItemStatus
from safenet.engine.cluster import ClusterTarget
from safenet.engine.dask_executor import DaskExecutor, DaskSetup, worker_setup
from safenet.engine.executors import CRASH_CODE, StagePlan, WorkerSetup, run_ordered
from safenet.engine.profiles import Profile
from safenet.evidence.registry import open_source
from tests.builders import jpeg, md5, write
from tests.datafiles import DATA, data_file
from tests.engine.daskcases import build_tree, rows, run
from tests.engine.test_executors import crashing_stage
from tests.engine.test_triage import Collect

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
ROOT = Path(__file__).resolve().parents[2]
DASK = Path(sys.executable).with_name("dask")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterTarget]:
    folder = tmp_path_factory.mktemp("dask-cluster")
    scheduler_file = folder / "scheduler.json"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),  # the workers unpickle the tests' crashing stage by name
        "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1",
    }

    def spawn(*args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [str(DASK), *args], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    host = ("--host", "127.0.0.1", "--no-dashboard", "--scheduler-file", str(scheduler_file))
    started = [spawn("scheduler", "--port", "0", *host)]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists():
            assert time.monotonic() < deadline, "the dask scheduler did not start"
            time.sleep(0.2)
        # no memory limit: Dask's default is the machine's memory over its cores, too little on a many-core CI
        # machine with a few GB (the workers peak at ~170 MB; under ~250 MB each they pause and the tests hang)
        worker = ("worker", "--nthreads", "1", "--memory-limit", "0")
        started += [spawn(*worker, "--name", name, *host) for name in ("w1", "w2")]
        with Client(scheduler_file=str(scheduler_file), set_as_default=False) as client:
            client.wait_for_workers(2, timeout=120)
            yield ClusterTarget(client.scheduler.address)
    finally:
        for process in reversed(started):
            process.terminate()
        for process in started:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def _worker_pids(address: str) -> dict[str, int]:
    with Client(address, set_as_default=False) as client:
        pids: dict[str, int] = client.run(os.getpid)
        return pids


def test_a_folder_and_an_image_on_worker_processes_match_a_local_run(tmp_path: Path, cluster: ClusterTarget) -> None:
    ev, db = build_tree(tmp_path)
    assert rows(run(ev, tmp_path / "remote", db, cluster)[0]) == rows(run(ev, tmp_path / "local", db)[0])
    image = data_file(DATA / "disk" / "fat_exfat" / "fat_deleted_dir.raw")
    remote = run(image, tmp_path / "image-remote", cluster=cluster, profile=Profile.FULL)[0]
    assert rows(remote) == rows(run(image, tmp_path / "image-local", profile=Profile.FULL)[0])


class _KillAWorker(Collect):
    """Kills one worker process (SIGKILL: no goodbye to the scheduler) once some results have come back."""

    def __init__(self, address: str, after: int) -> None:
        super().__init__()
        self.address, self.left, self.killed = address, after, 0

    def advanced(self, items: int, bytes_read: int) -> None:
        self.left -= items
        if self.left == 0:
            pid = next(iter(_worker_pids(self.address).values()))
            os.kill(pid, signal.SIGKILL)
            self.killed = pid


def test_a_worker_killed_mid_run_changes_nothing(tmp_path: Path, cluster: ClusterTarget) -> None:
    from safenet.case.store import Case
    from safenet.engine.executors import ExecutorKind
    from safenet.engine.triage import RunStatus, TriageOptions, triage
    from safenet.hashsets.store import HashSetStore

    ev, db = build_tree(tmp_path)
    expected = rows(run(ev, tmp_path / "local", db)[0])
    case = Case.create_or_open(tmp_path / "remote")
    events = _KillAWorker(cluster.address, after=40)
    options = TriageOptions(
        exhibit="EX1",
        profile=Profile.STANDARD,
        hashsets=("s",),
        operator="t",
        executor=ExecutorKind.DASK,
        cluster=cluster,
    )
    outcome = triage(ev, case, HashSetStore(db), options, events)
    assert events.killed and outcome.status is RunStatus.COMPLETED
    assert rows(case) == expected
    with Client(cluster.address, set_as_default=False) as client:
        client.wait_for_workers(2, timeout=120)  # the nanny restarted it: the next test has two again


def test_a_file_that_kills_every_worker_becomes_a_worker_crashed_warning(
    tmp_path: Path, cluster: ClusterTarget
) -> None:
    root = tmp_path / "ev"
    for i in range(30):
        write(root, f"{i:03d}.jpg", jpeg(i, (8, 8)))
    write(root, "crash-1.jpg", jpeg(99, (8, 8)))
    evidence = open_source(root)
    items = sorted(evidence.items(lambda w: None), key=lambda i: i.name)
    setup = DaskSetup(worker_setup(WorkerSetup(root, StagePlan(Profile.QUICK, ("md5",))), cluster), None)
    with Client(cluster.address, set_as_default=False) as client:
        with DaskExecutor(client, setup, factory=crashing_stage, owns_client=False) as executor:
            executor.batch_items = 8
            results = list(run_ordered(executor, items))
        client.wait_for_workers(2, timeout=120)
    assert [r.records[0].item.name for r in results] == [i.name for i in items]
    assert [r.warnings[0].code for r in results if r.warnings] == [CRASH_CODE]
    last = results[-1].records[0]
    assert last.status is ItemStatus.EXAMINED  # decoding crashed on two workers, twice; hashing its bytes did not
    assert last.digests == {"md5": bytes.fromhex(md5(jpeg(99, (8, 8))))}


def test_a_region_range_that_kills_every_worker_becomes_a_warning_and_the_other_ranges_are_kept(
    tmp_path: Path, cluster: ClusterTarget
) -> None:
    from safenet.engine.split import Splitting
    from safenet.evidence.carve import REGION, CarveLimits
    from safenet.evidence.model import OpenContext
    from tests.engine.test_split import CRASH_RANGE, STEP, _fat_image, _layout, crashing_range

    image = _fat_image(tmp_path)
    context = OpenContext(unallocated=True)
    items = list(open_source(image, context).items(lambda w: None))
    plan = StagePlan(Profile.FULL, ("md5",))
    setup = DaskSetup(worker_setup(WorkerSetup(image, plan, context), cluster), None)
    with Client(cluster.address, set_as_default=False) as client:
        with DaskExecutor(client, setup, factory=crashing_range, owns_client=False) as executor:
            executor.splitting = Splitting(CarveLimits(alignment=512), STEP)
            results = list(run_ordered(executor, items))
        client.wait_for_workers(2, timeout=120)
    assert [r.records[0].item for r in results] == items
    (region,) = [
        r
        for r in results
        if r.records[0].item.locator.leaf.detail == REGION and r.records[0].item.name == "$Unallocated"
    ]
    crashed = range(CRASH_RANGE * STEP, (CRASH_RANGE + 1) * STEP)
    carved = [r.item.locator.leaf.offset for r in region.records if r.parent == 0]
    assert carved == [offset for offset in sorted(_layout()) if offset not in crashed]
    (warning,) = [w for w in region.warnings if w.code == CRASH_CODE]
    assert warning.locator == region.records[0].item.locator
    assert f"bytes {crashed.start:,} to {crashed.stop:,} of this region died twice" in warning.message
