"""A grade request may name the frames a video grade rests on; a still picture's may not, and bad frame
lists are refused at the edge."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.web.conftest import Browser, Built

pytestmark = pytest.mark.usefixtures("case_db")  # SQLite and PostgreSQL (tests/pgcase.py)


def test_frames_are_refused_for_a_still_picture_and_bounded(login: Callable[[str], Browser], built: Built) -> None:
    client = login("alice")
    still = built.ids["other.jpg"]
    refused = client.api("/api/grade", {"grade": "B", "item_ids": [still], "frames": [0, 2]})
    assert refused.status_code == 409 and "only a video or GIF grade names frames" in refused.json()["detail"]
    for bad in ([], [-1], list(range(49)), ["x"]):
        assert client.api("/api/grade", {"grade": "B", "item_ids": [still], "frames": bad}).status_code == 422
    graded = client.api("/api/grade", {"grade": "B", "item_ids": [still]})
    assert graded.status_code == 200 and graded.json()["graded"][0]["frames"] is None
