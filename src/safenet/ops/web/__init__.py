"""The operation dashboard (``safenet ops serve``): the same installation, users and login as the review UI.

Why a second app and not routes in the review app: the review app serves one case, the dashboard one
operation database; both reuse the review app's login, server-side sessions, CSRF and login throttling
(``safenet.web``), so a user logs in the same way and the same security defaults hold. Every page and action
checks the user's role per request against the operation's field groups (``safenet.ops.access``); the service
functions check again and audit every view and change of a person or safeguarding record.
"""

from safenet.ops.web.app import create_app
from safenet.ops.web.publicfigures import figures_html, figures_pdf
from safenet.ops.web.serve import serve

__all__ = ["create_app", "figures_html", "figures_pdf", "serve"]
