"""Server-rendered pages shared by all apps: home, login, jobs, account, invitations."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from boda.core import auth, households, jobs
from boda.core.errors import Forbidden, Unauthorized
from boda.core.models import HouseholdMember, JobStatus, User
from boda.web.api.households import household_out
from boda.web.clients import client_address
from boda.web.deps import SESSION_COOKIE, DbSession, MaybeUser, RuntimeDep, same_origin
from boda.web.i18n import LANG_COOKIE, LOCALES, locale_for

router = APIRouter(include_in_schema=False)

class PageContext:
    """What every template needs: who, which language, the CSRF token."""

    def __init__(self, request: Request, user: User | None, default_locale: str) -> None:
        self.request = request
        self.user = user
        self.locale = locale_for(request, user.locale if user else None, default_locale)
        self.csrf_token = getattr(request.state, "csrf_token", "")

    def render(self, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
        templates = self.request.app.state.templates
        context = {"user": self.user, "locale": self.locale, "csrf_token": self.csrf_token,
                   "locales": LOCALES, **values}
        return templates.TemplateResponse(self.request, template, context,  # type: ignore[no-any-return]
                                          status_code=status_code)


def _page(request: Request, user: MaybeUser) -> PageContext:
    return PageContext(request, user, request.app.state.settings.default_locale)


Page = Annotated[PageContext, Depends(_page)]


def require_login(page: PageContext) -> Response | None:
    if page.user is None:
        return RedirectResponse(f"/login?next={page.request.url.path}", status_code=303)
    return None


@router.get("/")
def home(page: Page) -> Response:
    return page.render("home.html")


@router.get("/login")
def login_form(page: Page, next: str = "/") -> Response:
    return page.render("login.html", next=_safe_next(next), error=None)


def _safe_next(target: str) -> str:
    # Only local paths: an open redirect would let a link send a user elsewhere.
    return target if target.startswith("/") and not target.startswith("//") else "/"


@router.post("/login")
def login(request: Request, session: DbSession, runtime: RuntimeDep,
          username: Annotated[str, Form(max_length=64)], password: Annotated[str, Form(max_length=256)],
          next: Annotated[str, Form()] = "/") -> Response:
    # No user dependency here: a logged-in person may log in again without a CSRF header.
    page = PageContext(request, None, runtime.settings.default_locale)
    if not same_origin(request):
        raise Forbidden("Log in from Boda's own page", key="csrf")  # login CSRF
    try:
        user = auth.login(session, runtime.login_throttle, address=client_address(request), username=username,
                          password=password)
    except Unauthorized:
        return page.render("login.html", status_code=401, next=_safe_next(next), error="login.failed")
    finally:  # after the throttle has counted: it writes in a transaction of its own
        if old := request.cookies.get(SESSION_COOKIE):
            auth.end_web_session(session, old)
    _, secret = auth.create_web_session(session, user=user, days=runtime.settings.session_days)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, secret, max_age=runtime.settings.session_days * 86400,
                        httponly=True, samesite="lax", secure=runtime.settings.cookie_secure)
    return response


@router.post("/logout")
async def logout(request: Request, session: DbSession) -> Response:
    form = await request.form()
    cookie = request.cookies.get(SESSION_COOKIE)
    response = RedirectResponse("/", status_code=303)
    if cookie:
        web = auth.web_session_for(session, cookie)
        sent = str(form.get("csrf_token", ""))
        if web is not None and not hmac.compare_digest(sent, web.csrf_token):
            return response  # another site cannot log the user out
        auth.end_web_session(session, cookie)
    response.delete_cookie(SESSION_COOKIE)
    return response


def _same_site_path(referer: str, host: str) -> str:
    """The referring page's path when it is one of ours, else the home page."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(referer)
    except ValueError:  # e.g. an unbalanced "[" in the host part
        return "/"
    if not host or parts.netloc != host:
        return "/"
    return parts.path + (f"?{parts.query}" if parts.query else "")


@router.get("/lang/{locale}")
def set_language(locale: str, request: Request) -> Response:
    back = _safe_next(_same_site_path(request.headers.get("referer", ""), request.headers.get("host", "")))
    response = RedirectResponse(back, status_code=303)
    if locale in LOCALES:
        response.set_cookie(LANG_COOKIE, locale, max_age=365 * 86400, samesite="lax")
    return response


@router.get("/jobs")
def jobs_page(page: Page, session: DbSession) -> Response:
    if (redirect := require_login(page)) is not None:
        return redirect
    assert page.user is not None
    rows, total = jobs.list_jobs(session, user_id=page.user.id, limit=100)
    running = [JobStatus.queued, JobStatus.running]
    return page.render("jobs.html", jobs=rows, total=total, running=running)


@router.get("/account")
def account(page: Page, session: DbSession) -> Response:
    if (redirect := require_login(page)) is not None:
        return redirect
    assert page.user is not None
    tokens = auth.list_api_tokens(session, user=page.user)
    mine = [household_out(row, page.user.id) for row in households.list_mine(session, user_id=page.user.id)]
    return page.render("account.html", tokens=tokens, households=mine,
                       invite_days=page.request.app.state.settings.households.invite_days)


@router.get("/invite/{code}")
def invite(code: str, page: Page, session: DbSession) -> Response:
    """Accept or decline an invitation; the answer is sent by static/households.js."""
    if (redirect := require_login(page)) is not None:
        return redirect
    assert page.user is not None
    row = households.open_invite(session, code=code)  # a used, declined or expired link shows why
    member = session.get(HouseholdMember, (row.household_id, page.user.id)) is not None
    return page.render("invite.html", invite=row, code=code, member=member)


@router.get("/about")
def about(page: Page) -> Response:
    return page.render("about.html")
