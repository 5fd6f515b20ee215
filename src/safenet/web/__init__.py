"""The review web UI: login, the welfare-safe review grid and grading (issue 7).

Why a package of small modules: the app factory (:mod:`.app`) wires sessions (:mod:`.auth`), CSRF
(:mod:`.csrf`), blurred thumbnails (:mod:`.thumbs`) and thin route modules (:mod:`.routes`) that call the
same service functions as the CLI (``safenet.case.gradings``). Nothing about a case is served to anyone
without a session, and the clear picture of an item reaches a browser only after an audited reveal.
"""

from safenet.web.app import create_app
from safenet.web.settings import WebSettings

__all__ = ["WebSettings", "create_app"]
