"""Cluster edits in the browser: X in the cluster view takes the focused item out of the cluster (recorded),
and the cluster view lists the change."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from safenet.case.clustermap import cluster_map
from tests.web import browser_support
from tests.web.browser_support import log_in, poll
from tests.web.conftest import Built

server, browser_page = browser_support.server, browser_support.browser_page  # fixtures


def test_x_takes_the_focused_item_out_of_the_cluster_and_the_view_lists_it(
    server: str, browser_page: object, built: Built, app: FastAPI
) -> None:
    page: Any = browser_page
    big, small = built.ids["dup-big.jpg"], built.ids["dup-small.png"]
    log_in(page, server, "alice")
    page.locator(f'.card[data-item="{big}"]').focus()
    page.keyboard.press("x")  # in the grid: refused, nothing changed
    assert "cluster view" in (page.locator("#message").text_content() or "")
    page.keyboard.press("e")
    page.wait_for_url("**/review?cluster=*")
    url = page.url
    page.locator(f'.card[data-item="{small}"]').focus()
    page.keyboard.press("x")
    poll(page, "document.getElementById('message').textContent.startsWith('Took item')")
    assert "left-cluster" in (page.locator(f'.card[data-item="{small}"]').get_attribute("class") or "")
    assert small not in cluster_map(app.state.web.case).of_item
    page.goto(url)
    assert f"item {small} taken out by alice" in (page.locator("#cluster-edit-list").text_content() or "")
