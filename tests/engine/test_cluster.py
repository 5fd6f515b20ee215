"""``--path-map`` mappings: parsed, applied, and written back as they were given."""

from __future__ import annotations

import pytest

from safenet.engine.cluster import ClusterTarget, PathMap


def test_a_mapping_is_written_as_it_is_parsed() -> None:
    mapping = PathMap.parse("/mnt/ev/=/lab/ev")
    assert (mapping.local, mapping.shared, str(mapping)) == ("/mnt/ev", "/lab/ev", "/mnt/ev=/lab/ev")
    assert PathMap.parse(str(mapping)) == mapping
    target = ClusterTarget("tcp://lab:8786", (mapping,))
    assert target.as_dict() == {"address": "tcp://lab:8786", "path_map": ["/mnt/ev=/lab/ev"]}


def test_the_first_mapping_covering_a_path_applies() -> None:
    target = ClusterTarget("tcp://lab:8786", (PathMap.parse("/mnt/ev=/lab/ev"), PathMap.parse("/mnt=/other")))
    assert target.worker_path("/mnt/ev/disk.E01") == "/lab/ev/disk.E01"
    assert target.worker_path("/mnt/evidence/disk.E01") == "/other/evidence/disk.E01"  # by component, not prefix
    assert target.worker_path("/home/x/disk.E01") == "/home/x/disk.E01"


@pytest.mark.parametrize("text", ["/a", "a=/b", "/a=b", ""])
def test_a_mapping_that_is_not_two_absolute_paths_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="LOCAL=SHARED"):
        PathMap.parse(text)
