"""The development mailbox: one JSON object per line, safe under concurrent appends, body never logged."""
from __future__ import annotations

import fcntl
import json
import logging
import stat
import threading

import pytest

from idp.delivery import EMAIL, SMS, DeliveryError, OutgoingMessage, read_mailbox
from idp.delivery.transports import MailboxTransport

PASSWORD = "Qw7RtY3p"


def message(n: int = 0, *, channel=EMAIL, recipient="client@example.com", text=None, html=""):
    return OutgoingMessage(channel=channel, recipient=recipient, template="temporary_password",
                           subject="Временный пароль" if channel == EMAIL else "",
                           text=text if text is not None else f"Письмо {n}: Временный пароль - {PASSWORD}\n",
                           html=html)


def test_each_message_is_one_json_object_on_one_line(tmp_path):
    path = tmp_path / "instance" / "mailbox.jsonl"  # the folder is created on first use
    box = MailboxTransport(path, sender="eservices@metlife.ru")
    first = box.send(message(1, html="<p>Временный пароль - <b>Qw7RtY3p</b></p>\n"))
    second = box.send(message(2, channel=SMS, recipient="+79161234567", text="Ваш новый пароль - Qw7RtY3p"))

    raw = path.read_text(encoding="utf-8")
    lines = raw.split("\n")
    assert lines[-1] == "" and len(lines) == 3  # two lines, each ended by \n
    records = [json.loads(line) for line in lines[:-1]]
    assert [r["id"] for r in records] == [first, second]
    assert records[0] | {"at": None} == {
        "id": first, "at": None, "channel": "email", "to": "client@example.com",
        "from": "eservices@metlife.ru",
        "template": "temporary_password", "subject": "Временный пароль",
        "text": f"Письмо 1: Временный пароль - {PASSWORD}\n",
        "html": "<p>Временный пароль - <b>Qw7RtY3p</b></p>\n",
    }
    assert records[1]["channel"] == "sms" and records[1]["to"] == "+79161234567"
    assert "Временный пароль" in raw  # Cyrillic stays readable in the file, not \u-escaped
    assert read_mailbox(path) == records


def test_unicode_line_separators_do_not_split_a_message(tmp_path):
    """U+2028, U+2029 and U+0085 are line breaks to str.splitlines and JavaScript: still one line each."""
    path = tmp_path / "mailbox.jsonl"
    tricky = "один\u2028два\u2029три\x85четыре\x0bпять\x0cшесть\x1cсемь\r\n"
    MailboxTransport(path).send(message(text=tricky))
    MailboxTransport(path).send(message(2))
    raw = path.read_text(encoding="utf-8")
    assert len(raw.splitlines()) == 2  # even the most eager line splitter sees two lines
    assert [m["text"] for m in read_mailbox(path)] == [tricky, message(2).text]


def test_the_mailbox_file_is_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "mailbox.jsonl"
    MailboxTransport(path).send(message())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_concurrent_appends_from_many_threads_stay_whole_lines(tmp_path):
    path = tmp_path / "mailbox.jsonl"
    threads, per_thread = 8, 25
    # Large bodies: each line is written in several system calls, so without the lock lines would tear.
    body = "Ж" * 40_000
    start = threading.Barrier(threads)
    errors = []

    def worker(t: int):
        box = MailboxTransport(path)  # each worker its own transport, as separate app instances would
        start.wait()
        try:
            for i in range(per_thread):
                box.send(message(text=f"{t}:{i}:{body}", recipient=f"c{t}@example.com"))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=60)
    assert errors == []

    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines.pop() == ""
    records = [json.loads(line) for line in lines]  # every line is a whole JSON object
    assert len(records) == threads * per_thread
    assert len({r["id"] for r in records}) == len(records)
    assert sorted(r["text"] for r in records) == sorted(f"{t}:{i}:{body}" for t in range(threads)
                                                        for i in range(per_thread))
    for t in range(threads):  # each thread's messages in the order it sent them
        mine = [int(r["text"].split(":")[1]) for r in records if r["to"] == f"c{t}@example.com"]
        assert mine == list(range(per_thread))


def test_an_append_waits_for_the_file_lock_another_writer_holds(tmp_path):
    """Linux appends rarely tear by themselves, so prove the lock: a writer holding it holds the send back."""
    path = tmp_path / "mailbox.jsonl"
    path.touch()
    done = threading.Event()
    with open(path, "a", encoding="utf-8") as other_writer:
        fcntl.flock(other_writer, fcntl.LOCK_EX)
        sender = threading.Thread(target=lambda: (MailboxTransport(path).send(message()), done.set()))
        sender.start()
        assert not done.wait(0.3)  # blocked on the lock
        assert path.read_text(encoding="utf-8") == ""
        fcntl.flock(other_writer, fcntl.LOCK_UN)
        assert done.wait(5)
    sender.join(timeout=5)
    assert len(read_mailbox(path)) == 1


def test_nothing_of_the_body_is_logged(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    box = MailboxTransport(tmp_path / "mailbox.jsonl", sender="eservices@metlife.ru")
    box.send(message(html=f"<p>Секретный HTML {PASSWORD}</p>"))
    box.send(message(channel=SMS, recipient="+79161234567", text=f"Ваш новый пароль - {PASSWORD}"))

    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "mailbox: temporary_password message email to c***@example.com" in logged
    assert "mailbox: temporary_password message sms to +791***67" in logged
    for secret in (PASSWORD, "Временный пароль", "Секретный", "Ваш новый пароль", "client@example.com",
                   "+79161234567"):
        assert secret not in logged
    assert PASSWORD not in repr(message()) and PASSWORD not in str(message())


def test_an_unwritable_mailbox_is_a_delivery_error_without_the_body(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    (tmp_path / "mailbox.jsonl").mkdir()  # a folder where the file should be
    with pytest.raises(DeliveryError) as caught:
        MailboxTransport(tmp_path / "mailbox.jsonl").send(message())
    assert "is not writable" in str(caught.value) and PASSWORD not in str(caught.value)
    assert PASSWORD not in caplog.text
