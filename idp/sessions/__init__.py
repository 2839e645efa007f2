"""Sign-in sessions: server-side rows behind a random cookie token, for single sign-on and sign-out."""
from idp.sessions.models import BrowserSession
from idp.sessions.service import end_all_sessions, end_session, find_session, start_session

__all__ = ["BrowserSession", "end_all_sessions", "end_session", "find_session", "start_session"]
