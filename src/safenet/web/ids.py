"""Item ids as the web API takes them: one validated path type for every route that names an item.

Why one type: an id is a SQLite integer (1 .. 2**63-1). A larger or non-positive number in a URL used to
reach the database and come back as HTTP 500; anything outside that range is simply no item of this case
(404), decided here before any handler or query runs. ``ItemIdValue`` is the same range for ids inside a
JSON body (a list of ids to grade), where a bad value is a malformed request (422).
"""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import Depends, HTTPException, status
from pydantic import Field

MAX_ITEM_ID: Final = 2**63 - 1
_MAX_DIGITS: Final = len(str(MAX_ITEM_ID))


def _path_item_id(item_id: str) -> int:
    """The ``{item_id}`` path parameter as an int in range, or 404 (never 422 or 500)."""
    if not (item_id.isascii() and item_id.isdigit() and len(item_id) <= _MAX_DIGITS):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such item in this case")
    value = int(item_id)
    if not 1 <= value <= MAX_ITEM_ID:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"item {value} is not in this case")
    return value


#: Use as the type of a handler's ``item_id`` parameter on a route with ``{item_id}`` in its path.
ItemId = Annotated[int, Depends(_path_item_id)]
#: An item id inside a request body.
ItemIdValue = Annotated[int, Field(ge=1, le=MAX_ITEM_ID)]
