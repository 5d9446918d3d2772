"""The auth report: the token, each refusal with its challenge, who may reach which order."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from scenarios.report import print_checks, records_table
from scenarios.result import ScenarioResult


def render(result: ScenarioResult, console: Console) -> None:
    m = result.metrics
    token = m["tokens"]
    claims = [
        {"field": k, "value": str(v)} for k, v in {**token["header"], **token["claims"]}.items()
    ]
    console.print(records_table("the access token Hydra issued (header, claims)", claims,
                                ("field", "value")))  # fmt: skip
    refusals = [
        {"request": case, "status": a["status"], "WWW-Authenticate": a["www_authenticate"]}
        for case, a in m["authentication"]["answers"].items()
    ]
    console.print(records_table("authentication: POST /secure/quotes", refusals,
                                ("request", "status", "WWW-Authenticate")))  # fmt: skip
    cases = [
        {"case": case, "status": a["status"], "why": a["detail"] or ""}
        for case, a in m["authorization"]["answers"].items()
    ]
    console.print(records_table("authorization: /secure/orders", cases, ("case", "status", "why")))
    columns = ("system", "identity", "used_by", "may", "tries", "code")
    console.print(records_table("one identity per service: what it may do, one thing it may not",
                                m["privileges"]["identities"], columns))  # fmt: skip
    console.print("Kafka, outside auth.* (no ACL there: allow.everyone.if.no.acl.found): "
                  f"sandbox-auth-consumer reading orders: "
                  f"{m['privileges']['kafka_outside_its_namespace']}")  # fmt: skip
    render_mutual_tls(m["mtls"], console)
    render_rotation(m["rotation"], console)
    render_people(m["signin"], m["guessing"], console)
    render_sessions(m["sessions"], console)
    secrets = m["secrets"]
    environment = secrets["found_in_environment"]
    logged = [{"service": s, "in its logs": n, "in its environment": environment.get(s)}
              for s, n in secrets["found_per_service"].items()]  # fmt: skip
    console.print(records_table(f"the {secrets['secrets_looked_for']} tokens and secrets "
                                "used, looked for", logged,
                                ("service", "in its logs", "in its environment")))  # fmt: skip
    print_checks(m["checks"], console)


def render_mutual_tls(mtls: dict[str, Any], console: Console) -> None:
    """Each connection tried on each hop, then what the rotation under load showed."""
    connections = [
        {"server": server, "client certificate": mode, **p}
        for server, tried in mtls["probes"].items()
        for mode, p in tried.items()
    ]
    rotation = mtls["rotation"]
    console.print(records_table(
        f"TLS connections from inside the network (pricing-mtls logged "
        f"{', '.join(mtls['refused_handshakes_logged'])})", connections,
        ("server", "client certificate", "outcome", "detail")))  # fmt: skip
    console.print(
        f"re-issued under load: {rotation['new_serials']}; after nginx's reload api-auth "
        f"saw it present {rotation['nginx_presented_after']}; quotes by status: "
        f"{rotation['quotes']}"
    )


def render_sessions(measured: dict[str, Any], console: Console) -> None:
    """Each WebSocket's outcome from each page, with the cookie's attributes above."""
    rows = [{"WebSocket": name, **opened} for name, opened in measured["websockets"].items()]
    console.print(records_table(
        f"signed in: session cookie {measured['cookie']}; the feed read with it and without: "
        f"{measured['feed_reads']}; signed out, replayed: {measured['replayed_after_sign_out']}",
        rows, ("WebSocket", "this site's page", "another site's page", "no cookie")))  # fmt: skip


def render_rotation(rotation: dict[str, Any], console: Console) -> None:
    """Per phase: the kids of the tokens the client got, and its requests' statuses."""
    old = rotation["old_kid"]
    rows = [
        {"phase": phase, "token kids": ", ".join("old" if k == old else "new" for k in
                                                 rotation["token_kids"].get(phase, [])),
         "requests by status": ", ".join(f"{s}: {n}" for s, n in statuses.items())}
        for phase, statuses in rotation["requests"].items()
    ]  # fmt: skip
    console.print(records_table(
        f"the signing key rotated under load (old kid {old[:8]}…; a token of it was refused "
        f"{rotation['refused_after_s']} s after it was retired)", rows,
        ("phase", "token kids", "requests by status")))  # fmt: skip


def render_people(code_flow: dict[str, Any], guessing: dict[str, Any], console: Console) -> None:
    """The code traded at the token endpoint, and the guessed password's answers."""
    traded = [{"the code traded with": case, "status": e["status"], "error": e["error"]}
              for case, e in code_flow["exchanges"].items()]  # fmt: skip
    console.print(records_table(
        "authorization code with PKCE (without a challenge, Hydra answered: "
        f"{code_flow['without_a_challenge'] or 'no error'})", traded,
        ("the code traded with", "status", "error")))  # fmt: skip
    guesses = [{"attempt": n, "status": a["status"], "answered after (s)": a["took_s"],
                "Retry-After": a["retry_after"] or ""}
               for n, a in enumerate(guessing["attempts"], start=1)]  # fmt: skip
    console.print(records_table(
        f"bob's password guessed (Redis counted {guessing['failures_in_redis']} failures; "
        f"his right password then: {guessing['right_password_while_locked']})", guesses,
        ("attempt", "status", "answered after (s)", "Retry-After")))  # fmt: skip
