"""One worker process of ``safenet review --workers N`` (PostgreSQL cases): its app, built from what the
parent process checked and handed down in ``SAFENET_REVIEW_WORKER`` (JSON).

Why through the environment: uvicorn starts each worker as a fresh Python process that imports the app
factory by name, so nothing but text can be passed. The parent's CSRF secret goes with it (a token made by
one worker must be accepted by the others); it never leaves this machine's process tree.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Final

from fastapi import FastAPI

from safenet.users import UserStore
from safenet.web.app import create_app
from safenet.web.settings import WebSettings

ENV: Final = "SAFENET_REVIEW_WORKER"


def handed_down(case: Path, db: str | None, users: Path | None, settings: WebSettings) -> str:
    """What a worker needs, as the parent sets it in ``ENV``."""
    data: dict[str, Any] = {
        "case": str(case),
        "db": db,
        "users": str(users) if users is not None else None,
        "secret": settings.secret.hex(),
        "secure_cookies": settings.secure_cookies,
        "allowed_hosts": list(settings.allowed_hosts) if settings.allowed_hosts is not None else None,
        "trusted_proxies": list(settings.trusted_proxies),
    }
    return json.dumps(data)


def app() -> FastAPI:
    """The factory uvicorn calls in each worker process."""
    data = json.loads(os.environ[ENV])
    settings = WebSettings(
        secret=bytes.fromhex(data["secret"]),
        secure_cookies=bool(data["secure_cookies"]),
        allowed_hosts=tuple(data["allowed_hosts"]) if data["allowed_hosts"] is not None else None,
        trusted_proxies=tuple(data["trusted_proxies"]),
    )
    users = UserStore(Path(data["users"]) if data["users"] else None)
    return create_app(Path(data["case"]), users, settings, db=data["db"])
