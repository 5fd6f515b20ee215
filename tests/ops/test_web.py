"""The operation dashboard over HTTP: every route checked for every role, the actions (import, subscriber
address, approval, arrest and charge, safeguarding), hostile lead fields escaped, the public figures."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI
from markupsafe import escape

from safenet.ops.access import APPROVAL, DEVICES, FIGURES, LEADS, PEOPLE, SAFEGUARDING, VISITS, Action, allowed
from safenet.ops.store import OpsStore
from safenet.ops.visits import link_exhibit, visit
from safenet.ops.web.render import PAGES
from safenet.users import UserStore
from safenet.web.app import SECURITY_HEADERS
from tests.ops import web_support
from tests.ops.web_support import (
    ACTORS,
    ADDRESS,
    EXAMINER,
    PERSON,
    REFERRAL,
    ROLES,
    SUPERVISOR,
    WEEK,
    XSS_FILE,
    XSS_ISP,
    OpsBrowser,
    known_md5,
    lead_files,
    seed,
)
from tests.web import conftest as web_conftest
from tests.web.conftest import Built
from tests.web.test_security import _routes as routes_of

ops_users_template, ops_users = web_support.ops_users_template, web_support.ops_users  # fixtures
ops_store, ops_app, ops_login = web_support.ops_store, web_support.ops_app, web_support.ops_login
built, template_case = web_conftest.built, web_conftest.template_case

#: Every route of the dashboard and the field group (and action) it needs. A route added without a line
#: here fails ``test_every_route_is_listed``.
ROUTES: dict[tuple[str, str], tuple[str, Action]] = {
    ("GET", "/ops"): (FIGURES, "view"),
    ("GET", "/ops/leads"): (LEADS, "view"),
    ("POST", "/ops/leads/import"): (LEADS, "change"),
    ("POST", "/ops/leads/{lead_id}/subscriber"): (LEADS, "change"),
    ("POST", "/ops/subjects/{subject_id}/risk"): (LEADS, "change"),
    ("POST", "/ops/visits"): (VISITS, "change"),
    ("GET", "/ops/visits"): (VISITS, "view"),
    ("GET", "/ops/visits/{visit_id}"): (VISITS, "view"),
    ("POST", "/ops/visits/{visit_id}/approve"): (APPROVAL, "change"),
    ("POST", "/ops/visits/{visit_id}/executed"): (VISITS, "change"),
    ("POST", "/ops/visits/{visit_id}/devices"): (DEVICES, "change"),
    ("GET", "/ops/lab"): (DEVICES, "view"),
    ("GET", "/ops/people"): (PEOPLE, "view"),
    ("GET", "/ops/deadlines"): (PEOPLE, "view"),
    ("POST", "/ops/visits/{visit_id}/people"): (PEOPLE, "change"),
    ("POST", "/ops/people/{person_id}/outcome"): (PEOPLE, "change"),
    ("GET", "/ops/safeguarding"): (SAFEGUARDING, "view"),
    ("POST", "/ops/visits/{visit_id}/safeguarding"): (SAFEGUARDING, "change"),
    ("GET", "/ops/report"): (PEOPLE, "view"),
    ("GET", "/ops/figures"): (FIGURES, "view"),
    ("GET", "/ops/figures.pdf"): (FIGURES, "view"),
    ("POST", "/ops/figures/advice"): (FIGURES, "change"),
}
#: Routes any visitor may reach (the login form; "/" only redirects to /ops).
OPEN = {("GET", "/login"), ("POST", "/login"), ("POST", "/logout"), ("GET", "/")}
#: What a viewer may open, written out rather than derived: the aggregate figures only.
VIEWER_PAGES = {"/ops", "/ops/figures", "/ops/figures.pdf"}


def concrete(path: str, ids: dict[str, str]) -> str:
    return path.format(**ids)


@pytest.fixture
def seeded(ops_store: OpsStore, built: Built, tmp_path: Path) -> web_support.Seeded:
    return seed(ops_store, built, tmp_path / "leads")


def test_every_route_is_listed(ops_app: FastAPI) -> None:
    found = set(routes_of(ops_app, concrete=False))
    assert found - OPEN == set(ROUTES)
    assert found >= OPEN


def _ids(seeded: web_support.Seeded) -> dict[str, str]:
    return {
        "lead_id": seeded.lead,
        "subject_id": "S-1",
        "visit_id": seeded.visit,
        "person_id": seeded.person,
    }


@pytest.mark.parametrize("name", sorted(ROLES))
def test_every_route_answers_each_role_by_its_field_group(
    ops_login: Callable[[str], OpsBrowser], seeded: web_support.Seeded, name: str
) -> None:
    client = ops_login(name)
    actor = ACTORS[name]
    ids = _ids(seeded)
    for (method, path), (group, action) in ROUTES.items():
        url = concrete(path, ids)
        may = allowed(actor, group, action)
        if method == "GET":
            response = client.get(url)
            assert response.status_code == (200 if may else 403), (name, url, response.text[:300])
        else:
            # posted with the CSRF token but no fields: a refused role is 403 before the form is read; an allowed
            # one gets as far as the form: 422 for missing fields, 400 for a service's sentence (nothing to record),
            # 303 for the approval (it has no fields and is done)
            response = client.form(url)
            if may:
                assert response.status_code in (303, 400, 422), (name, url, response.status_code, response.text[:300])
            else:
                assert response.status_code == 403, (name, url, response.status_code)
        if name == "vic":
            assert (response.status_code == 200) == (url in VIEWER_PAGES), url
        if not allowed(actor, PEOPLE, "view"):
            assert PERSON not in response.text, (name, url)
        if not allowed(actor, SAFEGUARDING, "view"):
            assert REFERRAL not in response.text, (name, url)
        if not allowed(actor, LEADS, "view") and not allowed(actor, VISITS, "view"):
            assert ADDRESS not in response.text, (name, url)


def test_a_viewer_is_offered_only_the_figures(
    ops_login: Callable[[str], OpsBrowser], seeded: web_support.Seeded
) -> None:
    text = ops_login("vic").page("/ops")
    offered = {path for path, _label, _group in PAGES if f'href="{path}"' in text}
    assert offered == {"/ops", "/ops/figures"}
    for secret in (PERSON, REFERRAL, ADDRESS, seeded.lead, seeded.visit):
        assert secret not in text


def test_without_a_session_every_route_goes_to_the_login(ops_app: FastAPI, seeded: web_support.Seeded) -> None:
    client = OpsBrowser(ops_app, follow_redirects=False)
    for method, path in ROUTES:
        response = client.request(method, concrete(path, _ids(seeded)))
        assert response.status_code == 302 and response.headers["location"] == "/login", (method, path)


def test_a_form_post_without_the_csrf_token_is_refused(
    ops_login: Callable[[str], OpsBrowser], seeded: web_support.Seeded, ops_store: OpsStore
) -> None:
    client = ops_login("sue")
    response = client.post(f"/ops/visits/{seeded.visit}/approve")
    assert response.status_code == 403
    response = client.post(f"/ops/visits/{seeded.visit}/approve", data={"csrf_token": "0" * 64})
    assert response.status_code == 403
    assert visit(ops_store, SUPERVISOR, seeded.visit).status == "planned"


def test_login_goes_to_the_dashboard_with_the_security_headers_and_is_in_the_operation_audit_log(
    ops_login: Callable[[str], OpsBrowser], ops_store: OpsStore
) -> None:
    response = ops_login("ann").get("/ops")
    assert response.headers["Content-Security-Policy"] == SECURITY_HEADERS["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY" and response.headers["Cache-Control"] == "no-store"
    lines = [json.loads(line) for line in ops_store.audit.path.read_text(encoding="utf-8").splitlines()]
    assert any(line["event"] == "web-login" and line["data"]["user"] == "ann" for line in lines)


def test_an_analyst_imports_leads_and_a_second_import_merges_them(
    ops_login: Callable[[str], OpsBrowser], built: Built, tmp_path: Path
) -> None:
    data, mapping = lead_files(tmp_path / "files", known_md5(built))
    client = ops_login("ann")
    client.page("/ops/leads")

    def upload() -> str:
        files = {"file": ("obs.csv", data.read_bytes()), "mapping": ("p2p.yaml", mapping.read_bytes())}
        response = client.form("/ops/leads/import", {"source": "p2p"}, files=files)
        assert response.status_code == 200, response.text[:500]
        return str(response.text)

    assert "2 lead(s) added, 0 merged" in upload()
    text = upload()
    assert "0 lead(s) added, 2 merged" in text
    assert "holiday.jpg" in text and "203.0.113.7:4662" in text


def test_an_import_mistake_is_one_sentence_with_the_line(
    ops_login: Callable[[str], OpsBrowser], built: Built, tmp_path: Path
) -> None:
    data, mapping = lead_files(tmp_path / "files", known_md5(built))
    broken = data.read_text(encoding="utf-8").replace("203.0.113.9", "not-an-ip")
    client = ops_login("ann")
    client.page("/ops/leads")
    files = {"file": ("obs.csv", broken.encode()), "mapping": ("p2p.yaml", mapping.read_bytes())}
    response = client.form("/ops/leads/import", {"source": "p2p"}, files=files)
    assert response.status_code == 400
    assert "obs.csv line 3: &#39;not-an-ip&#39; is not an IP address" in response.text
    assert "Traceback" not in response.text and "safenet-leads-" not in response.text
    assert "0 lead(s)" not in response.text
    files = {"file": ("../../etc/<b>tips.xml", b"<x><y></x>")}
    response = client.form("/ops/leads/import", {"source": "cybertip"}, files=files)
    assert response.status_code == 400 and "b_tips.xml line 1 is not well-formed XML" in response.text
    assert "etc" not in response.text.split('role="alert">', 1)[1].split("</p>", 1)[0]


def test_hostile_lead_fields_are_shown_as_text(
    ops_login: Callable[[str], OpsBrowser], seeded: web_support.Seeded
) -> None:
    for url in ("/ops/leads", "/ops"):
        text = ops_login("ann").page(url)
        assert XSS_FILE not in text and XSS_ISP not in text, url
        assert str(escape(XSS_FILE)) in text and str(escape(XSS_ISP)) in text, url
        assert "<script" not in text and "<img" not in text, url


def test_an_analyst_enters_a_subscriber_address_and_plans_a_visit(
    ops_login: Callable[[str], OpsBrowser], ops_store: OpsStore, seeded: web_support.Seeded
) -> None:
    client = ops_login("ann")
    client.page("/ops/leads")
    response = client.form(f"/ops/leads/{seeded.hostile_lead}/subscriber", {"address": "2 Other Road"})
    assert response.status_code == 303
    text = client.page("/ops/leads")
    assert "2 Other Road (S-2)" in text
    response = client.form(
        "/ops/visits",
        {
            "lead_ids": seeded.hostile_lead,
            "warrant_power": "s.8 PACE",
            "warrant_ref": "2026/432",
            "planned_date": "2026-12-10",
        },
    )
    assert response.status_code == 303
    new = response.headers["location"].rsplit("/", 1)[1]
    assert visit(ops_store, SUPERVISOR, new).address == "2 Other Road"
    response = client.form(
        "/ops/visits",
        {"lead_ids": seeded.hostile_lead, "warrant_power": "x", "warrant_ref": "y", "planned_date": "9/12"},
    )
    assert response.status_code == 400 and "YYYY-MM-DD" in response.text


def test_a_supervisor_approves_a_visit_an_analyst_cannot(
    ops_login: Callable[[str], OpsBrowser], ops_store: OpsStore, seeded: web_support.Seeded
) -> None:
    analyst = ops_login("ann")
    text = analyst.page(f"/ops/visits/{seeded.visit}")
    assert "Approve the visit" not in text
    assert analyst.form(f"/ops/visits/{seeded.visit}/approve").status_code == 403
    supervisor = ops_login("sue")
    assert "Approve the visit" in supervisor.page(f"/ops/visits/{seeded.visit}")
    with pytest.MonkeyPatch.context() as patch:  # the redirect names the visit without building its view again
        patch.setattr("safenet.ops.web.routes.visits.visit", None)
        response = supervisor.form(f"/ops/visits/{seeded.visit.lower()}/approve")
    assert response.status_code == 303 and response.headers["location"] == f"/ops/visits/{seeded.visit}"
    assert visit(ops_store, SUPERVISOR, seeded.visit).status == "approved"
    assert "approved by sue" in supervisor.page(f"/ops/visits/{seeded.visit}")


def test_the_visit_shows_the_on_scene_verdict_and_the_corroboration(
    ops_login: Callable[[str], OpsBrowser], ops_store: OpsStore, seeded: web_support.Seeded, built: Built
) -> None:
    link_exhibit(ops_store, EXAMINER, seeded.visit, built.case, "EX1")
    text = ops_login("eve").page(f"/ops/visits/{seeded.visit}")
    assert "EX1" in text
    verdict = text.split('class="verdict">', 1)[1].split("</td>", 1)[0]
    assert "<strong>hits</strong>" in verdict and "A: 1" in verdict, verdict
    assert f"({seeded.lead}, md5 {known_md5(built)}) is on exhibit EX1" in text
    assert "trusted.jpg" in text.split("corroborations", 1)[1]
    assert PERSON not in text  # an examiner sees the visit, not the people


def test_an_officer_records_arrest_and_charge(
    ops_login: Callable[[str], OpsBrowser], ops_store: OpsStore, seeded: web_support.Seeded
) -> None:
    client = ops_login("ann")
    client.page("/ops/people")
    response = client.form(f"/ops/people/{seeded.person}/outcome", {"arrested_on": "2026-12-09"})
    assert response.status_code == 303
    text = client.page("/ops/deadlines")
    assert PERSON in text and "a charging decision" in text
    response = client.form(
        f"/ops/people/{seeded.person}/outcome",
        {"charged_on": "2026-12-20", "offence": "s.1(1)(a) Protection of Children Act 1978 (making)", "counts": "3"},
    )
    assert response.status_code == 303
    text = client.page("/ops/people")
    assert "2026-12-20" in text and "(making) (3 counts)" in text
    assert "a first court date within four weeks" in client.page("/ops/deadlines")
    bad = client.form(f"/ops/people/{seeded.person}/outcome", {"offence": "x", "counts": "many"})
    assert bad.status_code == 400
    lines = [json.loads(line) for line in ops_store.audit.path.read_text(encoding="utf-8").splitlines()]
    changes = [line["data"] for line in lines if line["event"] == "person-changed"]
    assert [c["user"] for c in changes] == ["ann", "ann"]  # the failed third post recorded nothing
    assert any(line["event"] == "people-viewed" and line["data"]["user"] == "ann" for line in lines)


def test_safeguarding_is_recorded_and_shown_to_the_restricted_roles_only(
    ops_login: Callable[[str], OpsBrowser], seeded: web_support.Seeded
) -> None:
    client = ops_login("sue")
    client.page("/ops/safeguarding")
    response = client.form(f"/ops/visits/{seeded.visit}/safeguarding", {"children": "3", "referral_to": "MASH"})
    assert response.status_code == 303
    text = client.page("/ops/safeguarding")
    assert "MASH" in text
    assert ops_login("eve").get("/ops/safeguarding").status_code == 403


def test_the_public_figures_page_and_pdf(ops_login: Callable[[str], OpsBrowser], seeded: web_support.Seeded) -> None:
    client = ops_login("vic")
    text = client.page(f"/ops/figures?week={WEEK}")
    assert WEEK in text and "Safety advice" in text
    assert PERSON not in text and ADDRESS not in text and seeded.visit not in text
    pdf = client.get(f"/ops/figures.pdf?week={WEEK}")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert client.get("/ops/figures?week=2026-W99").status_code == 400
    assert client.get("/ops/figures.pdf?week=\u0662\u0660\u0662\u0666-W50").status_code == 400  # not a 500


def test_serve_refuses_a_network_address_no_users_and_a_port_in_use(
    ops_store: OpsStore, ops_users: UserStore, tmp_path: Path
) -> None:
    assert ops_users.path == tmp_path / "users.sqlite"  # where SAFENET_USERS points in every test
    from safenet.commands.review import bind
    from safenet.ops.errors import OpsError
    from safenet.ops.web import serve

    db = str(ops_store.folder / "ops.sqlite")
    with pytest.raises(OpsError, match="not a loopback address"):
        serve(db, host="0.0.0.0", port=1)
    with pytest.raises(OpsError, match="no users yet"):
        serve(db, port=1, users_file=tmp_path / "nobody.sqlite")
    taken = bind("127.0.0.1", 0)
    try:
        with pytest.raises(OpsError, match="choose another --port"):
            serve(db, port=taken.getsockname()[1])
    finally:
        taken.close()


def test_the_queue_shows_the_entered_risk_beside_the_derived_signals(
    ops_login: Callable[[str], OpsBrowser], seeded: web_support.Seeded
) -> None:
    client = ops_login("ann")
    client.page("/ops/leads")
    response = client.form("/ops/subjects/S-1/risk", {"level": "high", "reasons": "<b>access to children</b>"})
    assert response.status_code == 303
    text = client.page("/ops")
    row = text.split('id="subject-S-1">', 1)[1].split("</tr>", 1)[0]
    assert "high (ann)" in row and "&lt;b&gt;access to children&lt;/b&gt;" in row
    assert "3 in 1 lead(s)" in row and ADDRESS in row and seeded.lead in row
    assert client.form("/ops/subjects/S-1/risk", {"level": ""}).status_code in (400, 422)


def test_ops_figures_writes_the_public_page_as_html_and_pdf(
    ops_store: OpsStore,
    ops_users: UserStore,
    seeded: web_support.Seeded,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from safenet.cli import main

    monkeypatch.setenv("SAFENET_OPS_DB", str(ops_store.folder / "ops.sqlite"))
    page, pdf = tmp_path / "figures.html", tmp_path / "figures.pdf"
    assert main(["ops", "figures", "--week", WEEK, "--format", "html", "--output", str(page), "--as", "vic"]) == 0
    assert main(["ops", "figures", "--week", WEEK, "--format", "pdf", "--output", str(pdf), "--as", "vic"]) == 0
    text = page.read_text(encoding="utf-8")
    assert f"Operation figures: {WEEK}" in text and "Safety advice" in text
    assert '<th scope="row">Children safeguarded</th><td class="figure">fewer than 5</td>' in text  # two children
    assert '<th scope="row">Arrests</th><td class="figure">0</td>' in text
    for secret in (PERSON, ADDRESS, REFERRAL, seeded.visit, seeded.lead, "2026/431"):
        assert secret not in text
    assert pdf.read_bytes().startswith(b"%PDF")


def test_devices_found_are_recorded_and_the_seized_ones_wait_for_the_lab(
    ops_login: Callable[[str], OpsBrowser], seeded: web_support.Seeded
) -> None:
    client = ops_login("eve")
    assert PERSON not in client.page(f"/ops/visits/{seeded.visit}")
    for description, disposition, reason in (
        ("<i>Grey laptop</i>", "seized", ""),
        ("Smart TV", "left", "no storage"),
        ("Phone", "previewed", ""),
    ):
        data = {"description": description, "disposition": disposition, "reason": reason}
        assert client.form(f"/ops/visits/{seeded.visit}/devices", data).status_code == 303
    text = client.page(f"/ops/visits/{seeded.visit}")
    assert "left (no storage)" in text and "&lt;i&gt;Grey laptop&lt;/i&gt;" in text
    lab = client.page("/ops/lab")
    assert "&lt;i&gt;Grey laptop&lt;/i&gt;" in lab and "Smart TV" not in lab and "Phone" not in lab
    data = {"description": "Tablet", "disposition": "left"}
    response = client.form(f"/ops/visits/{seeded.visit}/devices", data)
    assert response.status_code == 400 and "needs the reason" in response.text
    assert f"{seeded.person} {PERSON}: not arrested" in ops_login("sue").page(f"/ops/visits/{seeded.visit}")


def test_the_weekly_report_for_the_supervisor(
    ops_login: Callable[[str], OpsBrowser], ops_store: OpsStore, seeded: web_support.Seeded
) -> None:
    from safenet.ops.people import record_outcome
    from safenet.ops.visits import approve_visit, mark_executed

    approve_visit(ops_store, SUPERVISOR, seeded.visit)
    mark_executed(ops_store, web_support.ANALYST, seeded.visit, web_support.TODAY)
    record_outcome(ops_store, web_support.ANALYST, seeded.person, arrested_on=web_support.TODAY)
    text = ops_login("sue").page("/ops/report")  # this week by the server's clock
    assert f"Weekly operation report: {WEEK}" in text
    assert f"<dt>Visits executed</dt><dd>{seeded.visit}</dd>" in text
    assert "<dt>Arrests</dt><dd>1</dd>" in text and "<dt>Charged</dt><dd>0</dd>" in text
    charging = text.split("<h2>Charging deadlines</h2>", 1)[1].split("</ul>", 1)[0]
    assert seeded.person in charging, charging


def test_bidi_and_invisible_characters_of_lead_fields_are_shown_escaped(
    ops_login: Callable[[str], OpsBrowser], ops_store: OpsStore, seeded: web_support.Seeded
) -> None:
    # HTML escaping stops markup, not a right-to-left override that shows "x\u202egpj.exe" as "xexe.jpg"
    from datetime import UTC, datetime

    from safenet.ops.leads import LeadIn, store_leads

    when = datetime(2026, 12, 1, 21, tzinfo=UTC)
    hostile = LeadIn(
        "p2p", "R\u200b9", when, "t\x85", "UTC", "203.0.113.99", None, "1" * 32, "md5", "t",
        isp="I\u2066SP", file_name="x\u202egpj.exe", client_id="g\x1b[2J",
    )  # fmt: skip
    store_leads(ops_store, web_support.ANALYST, [hostile])
    for url in ("/ops/leads", "/ops"):
        text = ops_login("ann").page(url)
        assert not any(ch in text for ch in "\u202e\u200b\u2066\x1b\x85"), url
        assert "x\\u202egpj.exe" in text and "I\\u2066SP" in text, url
    text = ops_login("ann").page("/ops/leads")
    assert "R\\u200b9" in text and "g\\x1b[2J" in text and "t\\x85" in text


def test_import_messages_naming_lead_file_text_show_it_escaped(
    ops_login: Callable[[str], OpsBrowser], built: Built, tmp_path: Path
) -> None:
    from tests.ops.leadfiles import Tip, write_cybertip

    data, mapping = lead_files(tmp_path / "files", known_md5(built))
    header, rest = data.read_text(encoding="utf-8").split("\n", 1)
    client = ops_login("ann")
    client.page("/ops/leads")
    bent = header.replace(",ip,", ",i\u202ep,") + "\n" + rest  # the error lists the header's columns
    files = {"file": ("obs.csv", bent.encode()), "mapping": ("p2p.yaml", mapping.read_bytes())}
    response = client.form("/ops/leads/import", {"source": "p2p"}, files=files)
    assert response.status_code == 400 and "i\\u202ep" in response.text and "\u202e" not in response.text
    tips = write_cybertip(tmp_path / "tips.xml", [Tip("1\u202e2")])  # a report with no file: a warning naming it
    client.page("/ops/leads")
    response = client.form("/ops/leads/import", {"source": "cybertip"}, files={"file": ("t.xml", tips.read_bytes())})
    assert response.status_code == 200 and "CyberTip 1\\u202e2" in response.text and "\u202e" not in response.text


def test_the_queue_names_the_known_categories_from_the_installations_sets(
    ops_app: FastAPI, ops_login: Callable[[str], OpsBrowser], template_case: Built, seeded: web_support.Seeded
) -> None:
    # the lead's MD5 is in the template case's set "ref-a" (category A); without the sets the column said "none"
    ops_app.state.web.hashdb = template_case.case.parent / "db"
    for url in ("/ops", "/ops/leads"):
        text = ops_login("ann").page(url)
        row = text.split('id="subject-S-1">', 1)[1].split("</tr>", 1)[0]
        assert "<td>A</td>" in row, url
