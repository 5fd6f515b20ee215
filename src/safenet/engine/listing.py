"""Listing an exhibit's items while the first of them are examined.

A back-end that may be listed on one thread while others read from it (``LISTS_WHILE_READ``; the folder
back-end) is listed on a thread of its own, and the items of the first rank (``ordering.ranked``) go to the
workers as soon as they are listed, in chunks that grow (the first read comes after one small chunk, not after
the whole tree). The order items are examined and recorded in is ``ordering.order``'s, as for a back-end
listed whole first; what is known only once the listing ends (how many items are planned, the listing's
warnings) is handed over then (``Listing.finish``), on the thread that asked for the items.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence

from safenet.engine.ordering import ranked
from safenet.evidence.model import Evidence, EvidenceWarning, Item, SourceLost

#: Items in the first chunk handed to the workers; each next chunk is twice as large, up to ``LAST_CHUNK``.
#: Each chunk's end waits for its last batch (the workers' window drains), so the chunks grow fast.
FIRST_CHUNK = 64
LAST_CHUNK = 16384
#: Most items the listing thread hands over at once (one queue operation per this many, not per item).
HANDOVER = 64


def streams(evidence: Evidence) -> bool:
    """Whether ``evidence``'s back-end may be listed while its items are read (``LISTS_WHILE_READ``)."""
    return bool(getattr(evidence, "LISTS_WHILE_READ", False))


class Listing:
    """``evidence.items`` on a thread of its own; ``chunks()`` gives the items in ``order``'s order.

    ``keep`` decides which listed items are planned (a resume leaves out those recorded); ``listed`` is called
    once, on the caller's thread, with the planned items' count and declared bytes and the listing's warnings,
    as soon as the listing has ended (or by ``finish``), and ``lost`` holds the ``SourceLost`` that ended it.
    """

    def __init__(
        self,
        evidence: Evidence,
        keep: Callable[[Item], bool],
        listed: Callable[[int, int, Sequence[EvidenceWarning]], None],
    ) -> None:
        self.lost: SourceLost | None = None
        self.count = 0
        self._keep, self._listed = keep, listed
        self._bytes = 0
        self._warnings: list[EvidenceWarning] = []
        self._queue: queue.SimpleQueue[list[Item] | None] = queue.SimpleQueue()
        self._error: BaseException | None = None
        self._reported = False
        self._stopped = False
        self._thread = threading.Thread(target=self._list, args=(evidence,), name="safenet-listing", daemon=True)
        self._thread.start()

    def _list(self, evidence: Evidence) -> None:
        handover: list[Item] = []
        size = 1  # the first items one by one, then more at a time: the first read waits for no others
        try:
            for item in evidence.items(self._warnings.append):
                if self._stopped:
                    break
                if not self._keep(item):
                    continue
                self.count += 1
                self._bytes += item.size or 0
                handover.append(item)
                if len(handover) >= size:
                    self._queue.put(handover)
                    handover, size = [], min(size * 2, HANDOVER)
        except SourceLost as exc:  # the items listed before are examined; the run ends interrupted
            self.lost = exc
        except BaseException as exc:  # raised again on the caller's thread (finish)
            self._error = exc
        finally:
            if handover:
                self._queue.put(handover)
            self._queue.put(None)

    def _items(self) -> Iterator[Item]:
        while (handover := self._queue.get()) is not None:
            yield from handover
        self.finish()

    def chunks(self) -> Iterator[list[Item]]:
        """The planned items in ``order``'s order, in growing chunks: each as soon as its items' places are sure."""
        items = ranked(self._items())
        size = FIRST_CHUNK
        while chunk := [item for _, item in zip(range(size), items, strict=False)]:
            yield chunk
            size = min(size * 2, LAST_CHUNK)

    def stop(self) -> None:
        """List no further (a run discarded before it began: ``examination.Early``); what was listed stays."""
        self._stopped = True

    def finish(self) -> None:
        """Wait for the listing to end, then report it (once); raises what the listing raised, if anything."""
        self._thread.join()
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        if not self._reported:
            self._reported = True
            self._listed(self.count, self._bytes, self._warnings)
