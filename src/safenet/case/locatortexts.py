"""Locators' stored texts (``Locator.to_json`` and ``str``) for a batch of rows, shared leading layers done once.

Every item of a folder shares its locator's leading layers (the source, an image's partition and file system, an
archive's own path) as the same objects: their JSON and display text are rendered once per batch, and only each
item's last layer per item. The texts are exactly ``Locator.to_json()`` and ``str(locator)``.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring_ascii  # the C quoting json.dumps uses

from safenet.evidence.locator import Layer, LayerKind, Locator

#: The encoder ``Locator.to_json`` uses (ASCII, no spaces), so a list's JSON is its items' JSON joined by commas.
_JSON = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"))
_quote = encode_basestring_ascii


class LocatorTexts:
    """``of(locator)`` is ``(locator.to_json(), str(locator))``; keep one for a batch, not longer."""

    def __init__(self) -> None:
        # keyed by the leading layers' identities; the layers are kept with their texts, so no id is reused
        self._heads: dict[tuple[int, ...], tuple[tuple[Layer, ...], str, str]] = {}

    def of(self, locator: Locator) -> tuple[str, str]:
        layers = locator.layers
        if len(layers) < 2:
            return locator.to_json(), str(locator)
        head = layers[:-1]
        key = tuple(map(id, head))
        known = self._heads.get(key)
        if known is None:
            shared = Locator(head)
            known = self._heads[key] = (head, shared.to_json()[:-1], str(shared))  # JSON without its "]"
        _, head_json, head_display = known
        leaf = layers[-1]
        text = leaf.render()
        display = head_display + text if leaf.kind is LayerKind.STREAM else f"{head_display} › {text}"
        return f"{head_json},{_layer_json(leaf)}]", display


def _layer_json(layer: Layer) -> str:
    """``_JSON.encode(layer.to_dict())``, written out for the common layer: the encoder's Python walk over one
    small dict cost more than the rest of the row. Anything but text and plain ints goes through the encoder."""
    inode, offset, length = layer.inode, layer.offset, layer.length
    if not all(type(n) is int for n in (inode, offset, length) if n is not None):
        return _JSON.encode(layer.to_dict())
    text = '{"kind":' + _quote(layer.kind.value)
    if layer.value:
        text += ',"value":' + _quote(layer.value)
    if inode is not None:
        text += f',"inode":{inode}'
    if offset is not None:
        text += f',"offset":{offset}'
    if length is not None:
        text += f',"length":{length}'
    if layer.detail:
        text += ',"detail":' + _quote(layer.detail)
    return text + "}"
