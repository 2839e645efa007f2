"""Sign-in sessions: server-side rows behind a random cookie token, for single sign-on and sign-out."""
from idp.sessions.models import BrowserSession, BrowserSessionClient
from idp.sessions.service import (EndedSession, end_account_sessions, end_all_sessions, end_session,
                                  find_session, remember_client, start_session)

__all__ = ["BrowserSession", "BrowserSessionClient", "EndedSession", "end_account_sessions",
           "end_all_sessions", "end_session", "find_session", "remember_client", "start_session"]
