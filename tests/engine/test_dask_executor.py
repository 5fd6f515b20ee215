"""The Dask executor on an in-process ``LocalCluster``: the same case as a local run, path mappings, options.

Worker deaths need real worker processes: tests/engine/test_dask_cluster.py (a ``dask scheduler`` and two
``dask worker`` processes started by the test).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from distributed import Client

from safenet.case.store import Case
from safenet.engine import dask_executor
from safenet.engine.cluster import ClusterTarget, PathMap
from safenet.engine.dask_executor import DaskExecutor, worker_setup
from safenet.engine.executors import ExecutorError, ExecutorKind, StagePlan, WorkerSetup, open_stage, run_ordered
from safenet.engine.preparing import OptionsError, TriageOptions, check_options
from safenet.engine.profiles import Profile
from safenet.evidence.registry import open_source
from tests.dasklocal import local_cluster
from tests.datafiles import DATA, data_file
from tests.engine.daskcases import FILES, HITS, build_tree, rows, run


@pytest.fixture(scope="module")
def cluster() -> Iterator[ClusterTarget]:
    """Two single-threaded workers in this process (the fast tests: no worker processes to start)."""
    with local_cluster() as local:
        yield ClusterTarget(local.scheduler_address)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return build_tree(tmp_path_factory.mktemp("dask-tree"))


def test_a_folder_on_the_cluster_records_what_a_local_run_records(
    tmp_path: Path, cluster: ClusterTarget, tree: tuple[Path, Path]
) -> None:
    ev, db = tree
    local, _ = run(ev, tmp_path / "local", db)
    remote, outcome = run(ev, tmp_path / "remote", db, cluster)
    expected = rows(local)
    assert len(expected["items"]) == FILES + 3 and len(expected["findings"]) == HITS  # the zip and its members
    assert rows(remote) == expected
    assert outcome.items_recorded == FILES + 3 and outcome.hits == HITS
    with sqlite3.connect(remote.path / "case.db") as con:
        (config,) = con.execute("SELECT config_json FROM runs").fetchone()
    assert json.loads(config)["cluster"] == {"address": cluster.address, "path_map": []}


@pytest.mark.parametrize(
    ("image", "profile"),
    [
        ("dfvfs/image.E01", Profile.STANDARD),
        ("fat_exfat/fat_deleted_dir.raw", Profile.FULL),  # deleted files and carving in unallocated space
        ("dftt/6-undel-fat.zip", Profile.FULL),
    ],
)
def test_corpus_images_on_the_cluster_match_a_local_run(
    tmp_path: Path, cluster: ClusterTarget, image: str, profile: Profile
) -> None:
    source = data_file(DATA / "disk" / image)
    local, _ = run(source, tmp_path / "local", profile=profile)
    remote, _ = run(source, tmp_path / "remote", cluster=cluster, profile=profile)
    expected = rows(local)
    assert expected["items"], image
    assert rows(remote) == expected


def test_workers_read_the_evidence_where_the_path_map_says(
    tmp_path: Path, cluster: ClusterTarget, tree: tuple[Path, Path]
) -> None:
    ev, _ = tree
    local, shared = tmp_path / "mnt" / "evidence", tmp_path / "lab" / "evidence"
    shutil.copytree(ev, local)
    evidence = open_source(local)
    items = list(evidence.items(lambda w: None))
    plan = StagePlan(Profile.STANDARD, ("md5",))
    expected = open_stage(WorkerSetup(local, plan)).run(items)  # examined here, before the local copy goes
    shutil.move(local, shared)  # from here only the workers' path holds the files
    target = ClusterTarget(cluster.address, (PathMap.parse(f"{tmp_path / 'mnt'}={tmp_path / 'lab'}"),))
    with DaskExecutor.for_run(target, WorkerSetup(local, plan), evidence) as executor:
        results = list(run_ordered(executor, items))
    assert results == expected  # the same records, each naming the item by the coordinator's path
    assert all(str(local) in r.records[0].item.locator.to_json() for r in results)


def test_worker_setup_maps_the_source_and_the_hash_set_folders(tmp_path: Path) -> None:
    from safenet.hashsets.catalog import StoredSet

    target = ClusterTarget("tcp://x:1", (PathMap.parse("/mnt/ev=/lab/ev"), PathMap.parse("/home=/lab/home")))
    info = object.__new__(StoredSet)
    setup = WorkerSetup(
        Path("/mnt/ev/laptop.E01"), StagePlan(Profile.FULL, ("md5",)), matcher=((info, Path("/home/db")),)
    )
    mapped = worker_setup(setup, target)
    assert mapped.source == Path("/lab/ev/laptop.E01")
    assert mapped.matcher == ((info, Path("/lab/home/db")),)
    assert worker_setup(WorkerSetup(Path("/other/x"), setup.plan), target).source == Path("/other/x")
    assert PathMap.parse("/mnt/ev=/lab/ev").apply("/mnt/evidence") is None  # a prefix of a name is not a folder
    with pytest.raises(ValueError, match="LOCAL=SHARED"):
        PathMap.parse("relative=/lab")


def test_a_worker_that_cannot_open_the_evidence_stops_the_run_with_one_sentence(
    tmp_path: Path, cluster: ClusterTarget, tree: tuple[Path, Path]
) -> None:
    ev, _ = tree
    target = ClusterTarget(cluster.address, (PathMap.parse(f"{ev}={tmp_path / 'not-mounted'}"),))
    with pytest.raises(ExecutorError, match=r"could not open the evidence .*not-mounted.*--path-map"):
        DaskExecutor.for_run(target, WorkerSetup(ev, StagePlan(Profile.QUICK, ("md5",))), open_source(ev))


def test_an_unreachable_scheduler_is_one_sentence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(dask_executor, "CONNECT_SECONDS", 1)
    with pytest.raises(ExecutorError, match=r"cannot reach the Dask scheduler at tcp://127.0.0.1:9 .*dask scheduler"):
        dask_executor.connect("tcp://127.0.0.1:9")


def test_the_executor_and_the_cluster_go_together() -> None:
    with pytest.raises(OptionsError, match="--cluster"):
        check_options(None, TriageOptions(exhibit="EX1", executor=ExecutorKind.DASK))
    with pytest.raises(OptionsError, match="--cluster"):
        check_options(None, TriageOptions(exhibit="EX1", executor=ExecutorKind.THREADS, cluster=ClusterTarget("x")))


def test_the_cluster_executor_sizes_its_window_by_the_workers_threads(cluster: ClusterTarget, tmp_path: Path) -> None:
    (tmp_path / "ev").mkdir()
    with Client(cluster.address, set_as_default=False) as client:
        setup = WorkerSetup(tmp_path / "ev", StagePlan(Profile.QUICK, ("md5",)))
        with DaskExecutor.for_run(cluster, setup, open_source(tmp_path / "ev"), client) as executor:
            assert executor.in_flight == dask_executor.IN_FLIGHT_PER_THREAD * 2
            assert executor.submit(()).result() == []
        assert client.status == "running"  # a client given is the caller's to close


def test_cli_cluster_options(
    tmp_path: Path, cluster: ClusterTarget, tree: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from safenet.cli import main

    ev, db = tree
    base = ["triage", str(ev), "--case", str(tmp_path / "c"), "--exhibit", "EX1", "--hashdb", str(db)]
    assert main([*base, "--path-map", "/a=/b"]) == 2
    assert "--path-map is for a cluster run" in capsys.readouterr().err
    assert main([*base, "--cluster", cluster.address, "--executor", "threads"]) == 2
    assert "leave out --executor threads" in capsys.readouterr().err
    assert main([*base, "--cluster", "lab-1"]) == 2
    assert "not a scheduler address" in capsys.readouterr().err
    phone = ["triage", "android://ABC", "--case", str(tmp_path / "c"), "--exhibit", "EX1", "--cluster", cluster.address]
    assert main(phone) == 2
    assert "out of the workers' reach" in capsys.readouterr().err
    assert main([*base, "--hashset", "s", "--profile", "standard", "--cluster", cluster.address]) == 0
    assert "run 1: completed" in capsys.readouterr().out
    assert len(rows(Case.create_or_open(tmp_path / "c"))["findings"]) == HITS
