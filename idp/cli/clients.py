"""``idp clients …``: register and manage OAuth clients (relying parties).

The secret of a confidential client is printed once, at ``create`` and ``rotate-secret``; only its hash,
sealed under ``IDP_SECRET_KEY``, is stored; so run these commands with the same ``IDP_SECRET_KEY`` as the
server.
"""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from idp.admin import operations
from idp.admin.operations import Actor
from idp.cli.output import domain_errors, emit, json_option
from idp.clients import GRANT_TYPES, describe_client, get_client, list_clients
from idp.clients.models import ACCESS_TOKEN_FORMATS
from idp.settings import has_ephemeral_secret_key

#: Changes made here are audited like the admin area's and the API's (``via`` = ``cli``).
CLI = Actor(via="cli")

clients = AppGroup("clients", help="OAuth clients (relying parties such as the ДМС portal).")


def _services():
    return current_app.extensions["idp"]


def _warn_without_secret_key() -> None:
    if has_ephemeral_secret_key(_services().settings):
        click.echo("warning: IDP_SECRET_KEY is not set; the secret below is hashed with a random key of "
                   "this process and the server will not accept it. Set IDP_SECRET_KEY as for the server.",
                   err=True)


def _with_secret(client, secret) -> dict:
    data = describe_client(client)
    if secret is not None:
        data["client_secret"] = secret
    return data


def _human(data: dict) -> str:
    lines = []
    for key, value in data.items():
        if isinstance(value, list):
            value = " ".join(value)
        lines.append(f"{key}: {'' if value is None else value}")
    if data.get("client_secret"):
        lines.append("The secret is shown only now: store it in the client's configuration.")
    return "\n".join(lines)


_grant_choice = click.Choice(GRANT_TYPES)
_DEFAULT = object()  # no web-origin option given


def _web_origins(origins, *, none: bool, derive: bool = False):
    """The ``web_origins`` the options ask for: a list, [] (``--no-web-origins``), None
    (``--derive-web-origins``), or _DEFAULT (no option: left as it is)."""
    if (bool(origins) + none + derive) > 1:
        raise click.UsageError("--web-origin, --no-web-origins and --derive-web-origins exclude each other")
    if origins:
        return list(origins)
    return [] if none else None if derive else _DEFAULT


@clients.command("create")
@click.option("--name", required=True, help="Name shown to customers on the consent page.")
@click.option("--redirect-uri", "redirect_uris", multiple=True,
              help="Exact redirect URI (repeat for several): https, or http on 127.0.0.1/localhost/[::1].")
@click.option("--post-logout-redirect-uri", "post_logout_redirect_uris", multiple=True,
              help="Where RP-initiated logout may return (repeat for several).")
@click.option("--scope", "scopes", multiple=True,
              help="Allowed scope (repeat, or space-separated). "
                   "Default: openid profile email phone offline_access.")
@click.option("--grant-type", "grant_types", multiple=True, type=_grant_choice,
              help="Allowed grant type (repeat). Default: authorization_code refresh_token "
                   "(+ client_credentials for confidential clients).")
@click.option("--public", is_flag=True, help="A public client (no secret; PKCE S256 required).")
@click.option("--first-party", is_flag=True,
              help="Trusted first-party client: customers are not asked to consent.")
@click.option("--pkce-optional", is_flag=True,
              help="Let a legacy confidential client use the code flow without PKCE (recorded in the audit). "
                   "Default: PKCE S256 required of every client.")
@click.option("--client-id", help="Choose the client_id (default: random).")
@click.option("--backchannel-logout-uri",
              help="Where the provider POSTs a logout token when the customer's session ends (Back-Channel "
                   "Logout): https, or http on 127.0.0.1/localhost/[::1].")
@click.option("--backchannel-logout-session-required", is_flag=True,
              help="The client needs the session id (sid) in logout tokens (they always carry it).")
@click.option("--web-origin", "web_origins", multiple=True, metavar="ORIGIN",
              help="A browser origin (scheme://host[:port]) allowed to call discovery, JWKS, token, UserInfo "
                   "and revocation (CORS; repeat). Default: a public client's redirect URIs' origins, "
                   "none for a confidential client.")
@click.option("--no-web-origins", is_flag=True, help="No browser origin at all (CORS), not even derived ones.")
@click.option("--access-token-format", type=click.Choice(ACCESS_TOKEN_FORMATS), default="opaque",
              show_default=True, help="opaque: a random handle looked up at the provider; jwt: a signed JWT "
                                      "(RFC 9068) resource servers validate locally with the JWKS.")
@click.option("--audience", "audiences", multiple=True, metavar="URI",
              help="A resource URI (RFC 8707) the client's access tokens may be for (repeat); the first is "
                   "the default audience. Default: none (a JWT's audience is then the client_id).")
@json_option
@domain_errors
def create(name, redirect_uris, post_logout_redirect_uris, scopes, grant_types, public, first_party,
           pkce_optional, client_id, backchannel_logout_uri, backchannel_logout_session_required, as_json,
           web_origins=(), no_web_origins=False, access_token_format="opaque", audiences=()):
    """Register a client; a confidential client's secret is printed once."""
    svc = _services()
    origins = _web_origins(web_origins, none=no_web_origins)
    if not public:
        _warn_without_secret_key()
    created = operations.register(svc, CLI, name=name, redirect_uris=redirect_uris,
                                  access_token_format=access_token_format, audiences=list(audiences),
                                  post_logout_redirect_uris=post_logout_redirect_uris, scopes=scopes or None,
                                  grant_types=grant_types or None, public=public, first_party=first_party,
                                  pkce_required=not pkce_optional, client_id=client_id,
                                  backchannel_logout_uri=backchannel_logout_uri,
                                  backchannel_logout_session_required=backchannel_logout_session_required,
                                  **({} if origins is _DEFAULT else {"web_origins": origins}))
    data = _with_secret(*created)
    emit(data, as_json, None if as_json else _human(data))


@clients.command("list")
@click.option("--active-only", is_flag=True, help="Leave out disabled clients.")
@json_option
def list_(active_only, as_json):
    """List registered clients."""
    rows = [describe_client(c) for c in list_clients(include_disabled=not active_only)]
    emit(rows, as_json, None if as_json else "\n\n".join(_human(r) for r in rows) or "(no clients)")


@clients.command("show")
@click.argument("client_id")
@json_option
@domain_errors
def show(client_id, as_json):
    """Show one client (never its secret)."""
    data = describe_client(get_client(client_id))
    emit(data, as_json, None if as_json else _human(data))


@clients.command("update")
@click.argument("client_id")
@click.option("--name")
@click.option("--redirect-uri", "redirect_uris", multiple=True, help="Replaces the whole list (repeat).")
@click.option("--post-logout-redirect-uri", "post_logout_redirect_uris", multiple=True,
              help="Replaces the whole list (repeat).")
@click.option("--clear-post-logout-redirect-uris", is_flag=True,
              help="Remove every post-logout redirect URI.")
@click.option("--scope", "scopes", multiple=True, help="Replaces the allowed scopes (repeat).")
@click.option("--grant-type", "grant_types", multiple=True, type=_grant_choice,
              help="Replaces the grant types.")
@click.option("--first-party/--third-party", "first_party", default=None, help="Skip consent, or ask for it.")
@click.option("--pkce-required/--pkce-optional", "pkce_required", default=None,
              help="Require PKCE S256 (the default), or let a legacy confidential client go without it "
                   "(recorded in the audit).")
@click.option("--backchannel-logout-uri", help="Where logout tokens are POSTed (an empty string removes it).")
@click.option("--backchannel-logout-session-required/--no-backchannel-logout-session-required",
              "backchannel_logout_session_required", default=None,
              help="Whether the client needs sid in logout tokens.")
@click.option("--web-origin", "web_origins", multiple=True, metavar="ORIGIN",
              help="Replaces the browser origins allowed (CORS; repeat).")
@click.option("--no-web-origins", is_flag=True, help="No browser origin at all, not even derived ones.")
@click.option("--derive-web-origins", is_flag=True,
              help="Back to the default: a public client's redirect URIs' origins, none for a confidential one.")
@click.option("--access-token-format", type=click.Choice(ACCESS_TOKEN_FORMATS), default=None,
              help="opaque or jwt (RFC 9068); tokens already issued keep their format.")
@click.option("--audience", "audiences", multiple=True, metavar="URI",
              help="Replaces the resource URIs (RFC 8707) of access tokens (repeat); the first is the "
                   "default.")
@click.option("--no-audiences", is_flag=True, help="Remove every audience (a JWT's audience is then the client_id).")
@json_option
@domain_errors
def update(client_id, name, redirect_uris, post_logout_redirect_uris, clear_post_logout_redirect_uris, scopes,
           grant_types, first_party, pkce_required, backchannel_logout_uri, backchannel_logout_session_required, as_json,
           web_origins=(), no_web_origins=False, derive_web_origins=False, access_token_format=None,
           audiences=(), no_audiences=False):
    """Change a client's settings; options not given stay as they are."""
    origins = _web_origins(web_origins, none=no_web_origins, derive=derive_web_origins)
    post_logout = [] if clear_post_logout_redirect_uris else (post_logout_redirect_uris or None)
    fields = {"name": name, "redirect_uris": redirect_uris or None, "post_logout_redirect_uris": post_logout,
              "scopes": scopes or None, "grant_types": grant_types or None, "first_party": first_party,
              "pkce_required": pkce_required, "backchannel_logout_uri": backchannel_logout_uri,
              "backchannel_logout_session_required": backchannel_logout_session_required}
    fields = {key: value for key, value in fields.items() if value is not None}
    if audiences and no_audiences:
        raise click.UsageError("--audience and --no-audiences exclude each other")
    if access_token_format is not None:
        fields["access_token_format"] = access_token_format
    if audiences or no_audiences:
        fields["audiences"] = list(audiences)
    if origins is not _DEFAULT:
        fields["web_origins"] = origins  # None too: derived again
    client = operations.change(_services(), CLI, client_id, **fields)
    data = describe_client(client)
    emit(data, as_json, None if as_json else _human(data))


@clients.command("rotate-secret")
@click.argument("client_id")
@json_option
@domain_errors
def rotate_secret_(client_id, as_json):
    """Give a confidential client a new secret (printed once); the old one stops working at once."""
    svc = _services()
    _warn_without_secret_key()
    rotated = operations.new_secret(svc, CLI, client_id)
    data = _with_secret(*rotated)
    emit(data, as_json, None if as_json else _human(data))


@clients.command("disable")
@click.argument("client_id")
@json_option
@domain_errors
def disable(client_id, as_json):
    """Disable a client: no new sign-ins or tokens, and its issued tokens stop working."""
    client = operations.disable(_services(), CLI, client_id)
    data = describe_client(client)
    emit(data, as_json, None if as_json else _human(data))


@clients.command("enable")
@click.argument("client_id")
@json_option
@domain_errors
def enable(client_id, as_json):
    """Enable a disabled client again."""
    client = operations.enable(_services(), CLI, client_id)
    data = describe_client(client)
    emit(data, as_json, None if as_json else _human(data))
