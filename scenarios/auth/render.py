"""The auth report: the token, each refusal with its challenge, who may reach which order."""

from __future__ import annotations

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
    logged = [{"service": s, "secrets found": n}
              for s, n in m["secrets"]["found_per_service"].items()]  # fmt: skip
    console.print(records_table(f"the {m['secrets']['secrets_looked_for']} tokens and secrets "
                                "used, looked for in the logs", logged,
                                ("service", "secrets found")))  # fmt: skip
    print_checks(m["checks"], console)
