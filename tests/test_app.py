"""``IdpFlask.ensure_sync`` remembers per function body whether it is a coroutine function: its answers are
Flask's own, asked the first time and again from memory."""
from functools import partial

from flask import Flask


class _Thing:
    def plain(self):
        return "plain"

    async def coroutine(self):
        return "coroutine"


def _plain():
    return "plain"


async def _coroutine():
    return "coroutine"


def test_ensure_sync_answers_as_flask_for_functions_and_bound_methods(app, monkeypatch):
    monkeypatch.setattr(app, "async_to_sync", lambda func: ("wrapped", func))
    thing = _Thing()
    for func in (_plain, _coroutine, thing.plain, thing.coroutine, _Thing().coroutine, partial(_coroutine)):
        for _ in range(2):  # the second time from what the first remembered
            assert app.ensure_sync(func) == Flask.ensure_sync(app, func)
    assert app.ensure_sync(thing.plain) == thing.plain
    assert app.ensure_sync(thing.coroutine) == ("wrapped", thing.coroutine)
    assert app.ensure_sync(_coroutine) == ("wrapped", _coroutine)
    assert _Thing.coroutine.__code__ in app._coroutine_code and _plain.__code__ in app._coroutine_code
