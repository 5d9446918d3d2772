"""The sign-in pages (lesson auth): GET /signin, the browser page that signs in with
authorization code and PKCE; /login and /consent, the steps Hydra redirects to
(api/signin.py says what guards them). Only the replica given Hydra's admin URL
(api-auth) serves them; the others answer 404.
"""

from __future__ import annotations

import asyncio
import html
import logging
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from api import signin
from api.settings import settings

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)
PAGE = Path(__file__).resolve().parent.parent / "static" / "signin.html"
# The step pages: nothing but this origin's forms; no script, no frame around them.
STEP_POLICY = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; " \
              "frame-ancestors 'none'; base-uri 'none'"  # fmt: skip
Challenge = Annotated[str, Query(min_length=1, max_length=signin.MAX_FIELD_CHARS["challenge"])]


class Steps:
    """What the steps need, made once: the users, the counter, Hydra's admin API."""

    def __init__(self, redis: Any) -> None:
        self.users = signin.load_users(settings.auth_users_file)
        self.throttle = signin.Throttle(redis, settings.auth_signin_window_s)
        self.hydra = signin.Hydra(settings.auth_admin_url)


def steps(request: Request) -> Steps:
    if not settings.auth_admin_url:
        raise HTTPException(404, "this replica signs nobody in (API_AUTH_ADMIN_URL is not set)")
    if getattr(request.app.state, "signin", None) is None:
        hub = request.app.state.feed
        request.app.state.signin = Steps(hub.redis if hub is not None else None)
    return request.app.state.signin


def own_origin() -> str:
    return settings.auth_issuer.rstrip("/")


@router.get("/signin")
async def page() -> FileResponse:
    """The browser page: signs in with authorization code and PKCE, then calls the api."""
    if not settings.auth_admin_url:
        raise HTTPException(404, "this replica signs nobody in (API_AUTH_ADMIN_URL is not set)")
    return FileResponse(PAGE, media_type="text/html")


# ---- login


@router.get("/login")
async def login_form(request: Request, login_challenge: Challenge) -> Response:
    step = steps(request)
    asked = await step.hydra.login_request(login_challenge)
    if asked.get("skip"):  # Hydra remembers this person: no password asked again
        return see_other(await step.hydra.accept_login(login_challenge, str(asked["subject"])))
    client = asked.get("client", {}).get("client_id", "?")
    return login_page(request, login_challenge, client)


@router.post("/login")
async def login(request: Request) -> Response:
    step = steps(request)
    fields = await checked_form(request)
    challenge, name = fields.get("challenge", ""), fields.get("username", "")
    if not signin.USERNAME.fullmatch(name):
        return login_page(request, challenge, "", 400, "a user name is 1 to 32 of a-z, 0-9, "
                          "_ and -, starting with a letter")  # fmt: skip
    await step.throttle.check(name)
    user = await signin.authenticated(step.users, name, fields.get("password", ""))
    if user is None:
        failures = await step.throttle.failed(name)
        log.info("sign-in failed for %s (%d in a row)", name, failures)
        await asyncio.sleep(signin.failure_delay_s(failures))
        return login_page(request, challenge, "", 403, "wrong user name or password")
    await step.throttle.succeeded(name)
    log.info("signed in: %s as %s", name, user.subject)
    return see_other(await step.hydra.accept_login(challenge, user.subject))


# ---- consent


@router.get("/consent")
async def consent_form(request: Request, consent_challenge: Challenge) -> Response:
    step = steps(request)
    asked = await step.hydra.consent_request(consent_challenge)
    if asked.get("skip"):
        return see_other(await step.hydra.accept_consent(consent_challenge, asked))
    return consent_page(request, consent_challenge, asked)


@router.post("/consent")
async def consent(request: Request) -> Response:
    step = steps(request)
    fields = await checked_form(request)
    challenge = fields.get("challenge", "")
    if fields.get("action") != "allow":
        return see_other(await step.hydra.reject_consent(challenge))
    asked = await step.hydra.consent_request(challenge)
    return see_other(await step.hydra.accept_consent(challenge, asked))


# ---- shared


async def checked_form(request: Request) -> dict[str, str]:
    """The posted form, read within its limit, whose CSRF token matches its cookie."""
    if request.headers.get("content-type", "").split(";")[0] != "application/x-www-form-urlencoded":
        raise signin.FormError("the form must be application/x-www-form-urlencoded")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > signin.MAX_FORM_BYTES:
            break
    fields = signin.form_fields(body)
    cookie = request.cookies.get(signin.CSRF_COOKIE)
    if not signin.csrf_holds(cookie, fields.get("csrf", ""), request.headers.get("origin"),
                             own_origin()):  # fmt: skip
        raise signin.CsrfError()
    return fields


def see_other(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303)


def with_csrf_cookie(response: Response, token: str) -> Response:
    response.set_cookie(signin.CSRF_COOKIE, token, max_age=900, path="/", secure=True,
                        httponly=True, samesite="strict")  # fmt: skip
    response.headers["Content-Security-Policy"] = STEP_POLICY
    response.headers["Cache-Control"] = "no-store"
    return response


def csrf_of(request: Request) -> str:
    """The token already in the browser's cookie, else a new one (set again with the page)."""
    known = request.cookies.get(signin.CSRF_COOKIE, "")
    return known if 0 < len(known) <= signin.MAX_FIELD_CHARS["csrf"] else signin.new_csrf_token()


def login_page(
    request: Request, challenge: str, client: str, status: int = 200, error: str = ""
) -> Response:
    token = csrf_of(request)
    fields = """
<label>user name <input name="username" autocomplete="username" maxlength="32" required></label>
<label>password <input name="password" type="password" autocomplete="current-password"
  maxlength="256" required></label>
<button type="submit">Sign in</button>"""
    body = step_page(f"Sign in to let {client or 'the page'} act for you",
                     form_of(request, "login", challenge, token, fields), error)  # fmt: skip
    return with_csrf_cookie(HTMLResponse(body, status), token)


def consent_page(request: Request, challenge: str, asked: dict[str, Any]) -> Response:
    token = csrf_of(request)
    scopes = "".join(f"<li>{html.escape(str(s))}</li>" for s in asked.get("requested_scope", []))
    client = html.escape(str(asked.get("client", {}).get("client_id", "?")))
    fields = f"""
<p>{client} asks to act as <b>{html.escape(str(asked.get("subject", "?")))}</b> with:</p>
<ul>{scopes}</ul>
<button type="submit" name="action" value="allow">Allow</button>
<button type="submit" name="action" value="deny">Deny</button>"""
    body = step_page("Allow access?", form_of(request, "consent", challenge, token, fields), "")
    return with_csrf_cookie(HTMLResponse(body), token)


def form_of(request: Request, action: str, challenge: str, csrf: str, fields: str) -> str:
    """A step's form: posted back to this replica under nginx's prefix (the root path)."""
    return f"""<form method="post" action="{request.scope.get("root_path", "")}/{action}">
<input type="hidden" name="challenge" value="{html.escape(challenge)}">
<input type="hidden" name="csrf" value="{html.escape(csrf)}">{fields}
</form>"""


def step_page(title: str, form: str, error: str) -> str:
    problem = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)} · comms-sandbox</title>
<style>body {{ font-family: system-ui, sans-serif; max-width: 28rem; margin: 3rem auto; }}
label {{ display: block; margin: .6rem 0; }} .error {{ color: #b42318; }}</style></head>
<body><h1>{html.escape(title)}</h1>{problem}
{form}</body></html>"""


def error_page(status: int, reason: str, headers: dict[str, str] | None = None) -> HTMLResponse:
    response = HTMLResponse(step_page("Not signed in", "", reason), status, headers)
    response.headers["Content-Security-Policy"] = STEP_POLICY
    return response


STATUS_OF = {
    signin.FormError: 400,
    signin.ChallengeError: 400,
    signin.CsrfError: 403,
    signin.LockedError: 429,
    signin.UnavailableError: 503,
}


async def refused(_: Request, error: Exception) -> HTMLResponse:
    """Each of api/signin.py's errors: its status, and its reason on a page."""
    headers = {}
    if isinstance(error, signin.LockedError):
        headers["Retry-After"] = str(error.retry_after_s)
    elif isinstance(error, signin.UnavailableError):
        headers["Retry-After"] = "5"
    return error_page(STATUS_OF[type(error)], str(error), headers)
