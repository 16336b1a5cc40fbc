#!/usr/bin/env python3
"""Writes N realistic messages of an editor's inbox into a Maildir's cur/ (deterministic).

Most are readers' replies in the shapes mail clients send (plain text with quotes and a
signature, quoted-printable Latin-1, format=flowed, Gmail's multipart/alternative with an HTML
quote, Outlook), the rest automatic replies, delivery reports and other mail.

usage: gen_replies.py MAILDIR N EDITOR
"""
import os
import random
import sys

maildir, count, editor = sys.argv[1], int(sys.argv[2]), sys.argv[3]
random.seed(11)
words = ("build release team review deploy queue schema latency budget incident pager "
         "migration cache index query rollout feature branch merge runbook design estimate "
         "risk owner handover alert metric trace replica backup argument meeting wiki").split()


def sentence():
    s = " ".join(random.choice(words) for _ in range(random.randint(6, 16)))
    return s[0].upper() + s[1:] + "."


def paragraph():
    return " ".join(sentence() for _ in range(random.randint(2, 5)))


def quoted():
    return "\n".join("> " + sentence() for _ in range(random.randint(5, 25)))


def headers(i, name, frm, subject, extra=""):
    day = 1 + i % 28
    return (f"Return-Path: <{frm}>\nFrom: {name} <{frm}>\nTo: {editor}\nSubject: {subject}\n"
            f"Date: Mon, {day} Apr 2024 {i % 24:02d}:{i % 60:02d}:00 +0000\n"
            f"Message-ID: <bench-{i}@mail.example.org>\nMIME-Version: 1.0\n{extra}")


def plain(i):
    body = "\n\n".join(paragraph() for _ in range(random.randint(1, 3)))
    return (headers(i, f"Reader {i}", f"reader{i}@example.org", "Re: The Bench Dispatch V1N1",
                    f"In-Reply-To: <v1n1.{i}.x@example.test>\nContent-Type: text/plain; charset=utf-8\n")
            + f"\n{body}\n\nOn Mon, 1 Apr 2024 at 09:00, Editor <{editor}> wrote:\n{quoted()}\n\n-- \nReader {i}\nSent from my phone\n")


def latin1(i):
    body = paragraph().replace("e", "=E9", 3)
    return (headers(i, f"Lecteur {i}", f"lecteur{i}@example.fr", "RE: The Bench Dispatch V1N1",
                    "Content-Type: text/plain; charset=ISO-8859-1\nContent-Transfer-Encoding: quoted-printable\n")
            + f"\n{body}\n\nLe lun. 1 avr. 2024 =E0 09:00, Editor <{editor}> a =E9crit :\n{quoted()}\n")


def flowed(i):
    lines = []
    for _ in range(random.randint(2, 6)):
        lines.append(" ".join(random.choice(words) for _ in range(9)) + " ")
    lines[-1] = lines[-1].rstrip()
    return (headers(i, f"Flow {i}", f"flow{i}@example.net", "Re: [The Bench Dispatch] V1N1",
                    "Content-Type: text/plain; charset=UTF-8; format=flowed\n")
            + "\n" + "\n".join(lines) + f"\n\nOn 01/04/2024 09:00, Editor wrote:\n{quoted()}\n")


def gmail(i):
    text = paragraph()
    html = (f'<div dir="ltr">{text}<div><br></div></div><br><div class="gmail_quote">'
            f'<div dir="ltr" class="gmail_attr">On Mon, Apr 1, 2024 at 9:00 AM Editor wrote:<br></div>'
            f'<blockquote class="gmail_quote">{"<br>".join(sentence() for _ in range(15))}</blockquote></div>')
    return (headers(i, f"Gmail {i}", f"g{i}@gmail.example", "Re: The Bench Dispatch V1N1",
                    f'In-Reply-To: <v1n1.{i}.y@example.test>\nContent-Type: multipart/alternative; boundary="000b{i}"\n')
            + f"\n--000b{i}\nContent-Type: text/plain; charset=\"UTF-8\"\n\n{text}\n\nOn Mon, Apr 1, 2024 at 9:00 AM Editor wrote:\n{quoted()}\n"
            + f"\n--000b{i}\nContent-Type: text/html; charset=\"UTF-8\"\n\n{html}\n\n--000b{i}--\n")


def outlook(i):
    return (headers(i, f"Office {i}", f"o{i}@corp.example", "RE: The Bench Dispatch V1N1",
                    "Thread-Index: AQHabc==\nContent-Type: text/plain; charset=\"us-ascii\"\n")
            + f"\n{paragraph()}\n\nFrom: Editor <{editor}>\nSent: Monday, April 1, 2024 9:00 AM\nTo: Office {i}\nSubject: The Bench Dispatch V1N1\n\n{quoted()}\n")


def auto(i):
    return (headers(i, f"Away {i}", f"away{i}@example.org", "Out of office: The Bench Dispatch V1N1",
                    "Auto-Submitted: auto-replied\nContent-Type: text/plain; charset=utf-8\n")
            + "\nI am away until next week.\n")


def bounce(i):
    rcpt = f"gone{i}@example.org"
    return (headers(i, "Mail Delivery System", "MAILER-DAEMON@mx.example.test", "Undelivered Mail Returned to Sender",
                    f'Content-Type: multipart/report; report-type=delivery-status; boundary="R{i}"\n')
            + f"\n--R{i}\nContent-Type: text/plain\n\n<{rcpt}>: 550 5.1.1 User unknown\n"
            + f"\n--R{i}\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.test\n\n"
            + f"Final-Recipient: rfc822; {rcpt}\nAction: failed\nStatus: 5.1.1\n\n--R{i}--\n")


def other(i):
    return (headers(i, "Weekly Widgets", "news@widgets.example", f"Widgets weekly #{i}",
                    "List-Id: <weekly.widgets.example>\nContent-Type: text/plain; charset=utf-8\n")
            + "\n" + "\n\n".join(paragraph() for _ in range(4)) + "\n")


kinds = [plain] * 30 + [latin1] * 10 + [flowed] * 10 + [gmail] * 25 + [outlook] * 10 + \
        [auto] * 6 + [bounce] * 4 + [other] * 5
cur = os.path.join(maildir, "cur")
for sub in ("cur", "new", "tmp"):
    os.makedirs(os.path.join(maildir, sub), exist_ok=True)
total = 0
for i in range(count):
    data = random.choice(kinds)(i).encode("latin-1", "replace")
    total += len(data)
    with open(os.path.join(cur, f"{1700000000 + i}.M{i}P1.bench:2,"), "wb") as f:
        f.write(data)
print(f"{count} messages, {total // count} bytes on average")
