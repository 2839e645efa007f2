"""Sign-in sessions: idle and absolute timeouts; a password change ends the other sessions."""
import re

from tests.web.test_pages import post_login


def sign_in(client, login="client@example.com", password="Polis2026"):
    page = post_login(client, login=login, password=password, action="signin")
    assert page.headers["Location"] == "/account"


def test_idle_timeout_to_the_second(client, make_account, clock):
    make_account(email="client@example.com", password="Polis2026")
    sign_in(client)
    clock.advance(minutes=29, seconds=59)
    assert client.get("/account").status_code == 200  # activity moves the idle deadline
    clock.advance(minutes=29, seconds=59)
    assert client.get("/account").status_code == 200
    clock.advance(minutes=30)
    assert client.get("/account").status_code == 302


def test_absolute_lifetime(make_app, make_account, clock):
    app = make_app(session_lifetime=3600, session_idle_timeout=1800)
    client = app.test_client()
    with app.app_context():
        from idp.accounts import create_account
        from idp.extensions import db
        account = create_account(email="client@example.com", now=clock.now())
        account.password_hash = app.extensions["idp"].hasher.hash("Polis2026")
        db.session.commit()
    sign_in(client)
    for _ in range(3):
        clock.advance(minutes=19)
        assert client.get("/account").status_code == 200
    clock.advance(minutes=3)  # 60 minutes after sign-in, though active
    assert client.get("/account").status_code == 302


def test_password_change_ends_other_sessions(app, make_account, mailbox):
    make_account(email="client@example.com", password="Polis2026")
    phone, laptop = app.test_client(), app.test_client()
    sign_in(phone)
    assert phone.get("/account").status_code == 200
    post_login(laptop, login="client@example.com", action="forgot")
    temporary = mailbox.temporary_password("client@example.com")
    post_login(laptop, login="client@example.com", password=temporary, action="signin")
    page = laptop.get("/password/change").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    laptop.post("/password/change", data={"csrf_token": token, "temporary": temporary, "new": "Strah2027",
                                          "confirm": "Strah2027"})
    assert phone.get("/account").status_code == 302
    notices = [m for m in mailbox.messages("client@example.com") if m["template"] == "password_changed"]
    assert len(notices) == 1 and "изменён" in notices[0]["text"]


def test_signed_out_cookie_replayed_opens_nothing(client, make_account):
    make_account(email="client@example.com", password="Polis2026")
    sign_in(client)
    stolen = client.get_cookie("idp_session").value
    page = client.get("/account").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/logout", data={"csrf_token": token})
    client.set_cookie("idp_session", stolen)
    assert client.get("/account").status_code == 302
