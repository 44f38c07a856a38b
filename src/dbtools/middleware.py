"""ReadOnlyMiddleware: who the visitor appears to be, and which requests are refused."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.base import SessionBase
from django.core.signals import got_request_exception, setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponseBase

from dbtools import changes, current, discard, logouts
from dbtools.conf import conf
from dbtools.discard import Discard
from dbtools.errors import is_connection_lost, is_read_only_refusal
from dbtools.refusal import refusal_response
from dbtools.requests import REFUSED_ATTR, current_request, note_refusal
from dbtools.sessions import FrozenSession
from dbtools.state import Mode, State
from dbtools.switches import message_setting, retry_after_setting

logger = logging.getLogger("dbtools")
request_logger = logging.getLogger("django.request")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# Where frameworks and proxies let a client ask for another method than the one it used.
OVERRIDE_HEADERS = ("HTTP_X_HTTP_METHOD_OVERRIDE", "HTTP_X_HTTP_METHOD", "HTTP_X_METHOD_OVERRIDE")
OVERRIDE_FIELDS = ("_method", "X-HTTP-Method-Override", "x-http-method-override")
# Credentials a client can send besides the session cookie (Django REST framework's
# Basic, Session and Token authentication, JWT packages, RemoteUserMiddleware).
CREDENTIAL_HEADERS = ("HTTP_AUTHORIZATION", "HTTP_X_AUTHORIZATION")

Response = HttpResponseBase


class ReadOnlyMiddleware:
    """Serves every visitor read-only while a mode is on.

    Put it after SessionMiddleware and AuthenticationMiddleware. While GET-only mode is
    on, visitors stay logged in; while anonymous mode (``READ_ONLY_MODE``) is on, everyone
    is served as logged out. In both, the session is never written and every request
    that could write is answered with a 503 refusal before any view runs.
    """

    sync_capable = True
    async_capable = True

    def __init__(
        self, get_response: Callable[[HttpRequest], Response | Awaitable[Response]]
    ) -> None:
        self.get_response = get_response
        _read_settings()
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self.__acall__(request)
        # The common case, in as few steps as can be: nothing has changed since no mode was
        # found on.
        if current.off_under is changes.token or not (state := current.current_state()).active:
            return after_view(request, self.get_response(request), None)  # type: ignore[arg-type]
        served_as, refusal = before_view(request, state)
        if refusal is not None:
            return refusal
        token = current_request.set(request)  # for the guard's log and refusals
        taking = discard_token = None
        if served_as is not None and discards_writes(request):
            taking = Discard()
            discard_token = discard.current.set(taking)
        try:
            response = self.get_response(request)
        finally:
            if taking is not None:
                if taking.connections:
                    taking.end()
                discard.current.reset(discard_token)  # type: ignore[arg-type]
            current_request.reset(token)
        return after_view(request, response, served_as)  # type: ignore[arg-type]

    async def __acall__(self, request: HttpRequest) -> Response:
        if current.off_under is changes.token or not (state := current.current_state()).active:
            return after_view(request, await self.get_response(request), None)  # type: ignore[misc]
        served_as, refusal = before_view(request, state)
        if refusal is not None:
            return refusal
        token = current_request.set(request)
        taking = discard_token = None
        if served_as is not None and discards_writes(request):
            taking = Discard()
            discard_token = discard.current.set(taking)
        try:
            response = await self.get_response(request)  # type: ignore[misc]
        finally:
            if taking is not None:
                # In the thread the request's database work ran in.
                await sync_to_async(taking.end)()
                discard.current.reset(discard_token)  # type: ignore[arg-type]
            current_request.reset(token)
        return after_view(request, response, served_as)

    def process_exception(self, request: HttpRequest, exception: Exception) -> Response | None:
        """A write the guard or the database itself refused becomes the refusal, not a 500.

        So does a database connection lost under the request (killed from the server side,
        a failover in the middle of the migration): the visitor is asked to retry, with what
        they typed shown back, rather than shown an error page.
        """
        return refusal_for(request, exception)


def refusal_for(request: HttpRequest, exception: BaseException) -> Response | None:
    """The refusal that answers ``exception`` raised while serving ``request``, if it is one.

    A lost connection is still an error someone must hear of: it is logged on
    ``django.request`` with its traceback, and ``got_request_exception`` is sent, as
    Django does for a 500.
    """
    refused = is_read_only_refusal(exception)
    if not refused and not is_connection_lost(exception):
        return None
    if not refused:
        request_logger.error(
            "Database connection lost: %s",
            request.path,
            exc_info=(type(exception), exception, exception.__traceback__),
            extra={"status_code": 503, "request": request},
        )
        got_request_exception.send(sender=None, request=request)
    state = current.current_state()
    if not state.active:
        # The database was made read-only behind our back (a DBA, a failover).
        state = State(
            mode=Mode.GET_ONLY, message=message_setting(), retry_after=retry_after_setting()
        )
    note_refusal(request)
    freeze_session(request)
    return refusal_response(request, state)


def discards_writes(request: HttpRequest) -> bool:
    """A request served while a mode is on whose side-effect writes are rolled back.

    A safe request's, unless DBTOOLS_SAFE_REQUEST_WRITES is "refuse"; a logout's always,
    since a visitor who asked to log out must not be left logged in by some receiver's write.
    """
    if LOGGING_OUT_ATTR in request.__dict__:
        return True
    return _discarding and request.method in DISCARDING_METHODS


DISCARDING_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Set on a logout request served while a mode is on: the session key it came with.
LOGGING_OUT_ATTR = "_dbtools_logging_out"


def before_view(request: HttpRequest, state: State) -> tuple[State | None, Response | None]:
    """With a mode on: the state the request is served in (None if exempt), or a refusal."""
    if _exempt != () and is_exempt(request.path_info):  # no call when none are exempt
        return None, None
    cookie = request.COOKIES.get(_session_cookie_name)
    if state.mode is Mode.ANONYMOUS or (cookie and logouts.logged_out(cookie)):
        log_out(request)
    elif cookie:
        # A visitor with no session cookie has nothing to read: their session stays the
        # lazy one, and is frozen after the view only if the view put something in it.
        freeze_session(request)
    if not is_safe(request):
        if logouts.is_logout(request):
            request.__dict__[LOGGING_OUT_ATTR] = cookie
            return state, None
        seal_session(request)
        return state, refusal_response(request, state)
    return state, None


def after_view(request: HttpRequest, response: Response, state: State | None) -> Response:
    """Leave SessionMiddleware nothing to write when served read-only or a write was refused."""
    # Both are plain attributes of the request, set by the guard and SessionMiddleware;
    # asked on every request, so read in the fewest steps.
    attributes = request.__dict__
    if LOGGING_OUT_ATTR in attributes and REFUSED_ATTR not in attributes:
        end_logout(request, attributes[LOGGING_OUT_ATTR])
        return response
    if state is not None or REFUSED_ATTR in attributes:
        session = attributes.get("session")
        if type(session) is FrozenSession:  # frozen before the view
            session.seal()
            request.COOKIES.pop(_session_cookie_name, None)
        elif session is not None and (session.modified or _save_every_request):
            seal_session(request)  # not frozen before the view, and something would be saved
        return response
    session = attributes.get("session")
    if session is not None and (session.modified or _save_every_request):
        protect_session_save(session)
    return response


def end_logout(request: HttpRequest, cookie: str | None) -> None:
    """Once the logout view has run: the cookie is cleared and its session remembered.

    The session is left unsealed, so SessionMiddleware deletes the cookie of the session
    the view flushed; nothing is saved, since a FrozenSession is never modified.
    """
    session = getattr(request, "session", None)
    if session is None or not session.is_empty():
        return  # the view did not log the visitor out (a GET to a LogoutView, say)
    if cookie:
        logouts.remember(cookie)


def is_safe(request: HttpRequest) -> bool:
    if request.method not in SAFE_METHODS:
        return False
    meta = request.META
    for header in OVERRIDE_HEADERS:
        if header in meta and not names_safe_method(meta[header]):
            return False
    if meta.get("QUERY_STRING"):  # parsing an empty one costs more than all the rest
        query = request.GET
        for field in OVERRIDE_FIELDS:
            if field in query and not names_safe_method(query[field]):
                return False
    return True


def names_safe_method(asked: str) -> bool:
    """Whether a method override asks for a safe method (or for none at all)."""
    return not asked or asked.strip().upper() in SAFE_METHODS


def is_exempt(path: str) -> bool:
    global _exempt
    if _exempt is None:
        # Kept until the setting changes: reading an absent setting costs an exception.
        _exempt = exempt_patterns(conf.DBTOOLS_EXEMPT_PATHS)
    return bool(_exempt) and any(pattern.match(path) for pattern in _exempt)


_exempt: tuple[re.Pattern[str], ...] | None = None


def exempt_patterns(value: object) -> tuple[re.Pattern[str], ...]:
    if not isinstance(value, (list, tuple)):
        return ()
    try:
        return tuple(re.compile(pattern) for pattern in value)
    except (re.error, TypeError):  # reported by check dbtools.E005
        return ()


def log_out(request: HttpRequest) -> None:
    """Serve the request as a logged-out visitor, whatever credentials it carries."""
    for header in CREDENTIAL_HEADERS:
        request.META.pop(header, None)
    request.META.pop("REMOTE_USER", None)
    request.user = AnonymousUser()
    request.auser = _anonymous
    request.session = FrozenSession()


async def _anonymous() -> AnonymousUser:
    return AnonymousUser()


def freeze_session(request: HttpRequest) -> FrozenSession | None:
    """Put the request's session behind a FrozenSession (once); None if it has no session."""
    session = getattr(request, "session", None)
    if session is None or isinstance(session, FrozenSession):
        return session
    frozen = request.session = FrozenSession(session)
    return frozen


def seal_session(request: HttpRequest) -> None:
    """Leave SessionMiddleware nothing to save, set or delete on the way out."""
    session = freeze_session(request)
    if session is not None:
        session.seal()
        request.COOKIES.pop(_session_cookie_name, None)


def protect_session_save(session: SessionBase) -> None:
    """With no mode on, a session save the database refuses must not turn the page into a 500."""
    save = session.save

    def save_or_keep_page(must_create: bool = False) -> None:
        try:
            save(must_create)
        except Exception as error:
            if not is_read_only_refusal(error):
                raise
            logger.warning("Session not saved: the database is read-only (%s).", error)

    session.save = save_or_keep_page  # type: ignore[method-assign]


# Read when the middleware is made and when either setting changes: reading a setting
# costs about 0.5 us, and these are asked on every request.
_save_every_request = False
_session_cookie_name = "sessionid"
_discarding = True


def _read_settings() -> None:
    global _save_every_request, _session_cookie_name, _discarding
    _save_every_request = bool(settings.SESSION_SAVE_EVERY_REQUEST)
    _session_cookie_name = settings.SESSION_COOKIE_NAME
    _discarding = conf.safe_request_writes == "discard"


@receiver(setting_changed)
def _forget_settings(*, setting: str, **kwargs: object) -> None:
    global _exempt
    if setting in (
        "SESSION_SAVE_EVERY_REQUEST",
        "SESSION_COOKIE_NAME",
        "DBTOOLS_SAFE_REQUEST_WRITES",
    ):
        _read_settings()
    elif setting == "DBTOOLS_EXEMPT_PATHS":
        _exempt = None
