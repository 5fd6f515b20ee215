"""Cluster split and merge over HTTP: examiners only, audited, listed in the cluster view, kept over a
rebuild of the clusters."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi import FastAPI

from safenet.case.clusters import build_clusters
from tests.web.conftest import Browser, Built

pytestmark = pytest.mark.usefixtures("case_db")  # SQLite and PostgreSQL (tests/pgcase.py)


def test_taking_an_item_out_shows_in_the_cluster_view_and_survives_a_rebuild(
    app: FastAPI, login: Callable[[str], Browser], built: Built
) -> None:
    big, small, other = built.ids["dup-big.jpg"], built.ids["dup-small.png"], built.ids["other.jpg"]
    alice = login("alice")
    [cluster] = re.findall(rf'data-item="{big}"[^>]*?data-cluster="(\d+)"', alice.page("/review"))
    assert "None: the members are as" in alice.page(f"/review?cluster={cluster}")
    viewer = login("vic")
    assert viewer.api("/api/clusters/split", {"item_ids": [small]}).status_code == 403
    refused = alice.api("/api/clusters/split", {"item_ids": [other]})
    assert refused.status_code == 409 and "not in a near-duplicate cluster" in refused.json()["detail"]
    refused = alice.api("/api/clusters/merge", {"cluster_id": int(cluster), "other_cluster_id": 77})
    assert refused.status_code == 409 and "there is no cluster 77" in refused.json()["detail"]
    assert alice.api("/api/clusters/split", {"item_ids": [small]}).json() == {"split": [small]}
    view = alice.page(f"/review?cluster={cluster}")
    assert f"item {small} taken out by alice at" in view
    assert f'data-item="{small}"' not in view and f'data-item="{big}"' not in view  # a cluster of one dissolves
    build_clusters(app.state.web.case)
    grid = alice.page("/review")
    assert not re.findall(rf'data-item="{small}"[^>]*?data-cluster="\d+"', grid)
    [line] = [e["data"] for e in app.state.web.case.audit.entries() if e["event"] == "cluster-edited"]
    assert (line["action"], line["item"], line["user"], line["role"]) == ("split", small, "alice", "examiner")
