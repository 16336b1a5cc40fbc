#!/usr/bin/env python3
"""An HTML-only reply of about SIZE bytes of hostile markup, on standard output.

usage: gen_html_reply.py SHAPE SIZE
  divs        <div> nested SIZE/11 deep around one sentence
  spans       <span> nested the same way (inline elements)
  tables      <table><tr><td> nested, never closed
  formatting  <b id=N> opened and never closed, each with other attributes
  wide-row    one table row of SIZE/10 cells
  paragraphs  flat paragraphs, nothing nested (the common case, for comparison)
"""
import sys

shape, size = sys.argv[1], int(sys.argv[2])
if shape == "divs":
    n = size // 11
    body = "<div>" * n + "Deep text." + "</div>" * n
elif shape == "spans":
    n = size // 13
    body = "<span>" * n + "Deep text." + "</span>" * n
elif shape == "tables":
    body = "<table><tr><td>" * (size // 15) + "Deep text."
elif shape == "formatting":
    body = "".join("<b id=%d>" % i for i in range(size // 12)) + "Deep text."
elif shape == "wide-row":
    body = "<table><tr>" + "<td>x</td>" * (size // 10) + "</tr></table>"
elif shape == "paragraphs":
    p = "<p>Some words in a paragraph of a long reply.</p>\n"
    body = p * (size // len(p))
else:
    sys.exit("unknown shape " + shape)
sys.stdout.write(
    "From: Reader <reader@example.org>\r\n"
    "To: editor@example.com\r\n"
    "Subject: Re: The Dispatch V1N1\r\n"
    "Message-ID: <bench@example.org>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "\r\n" + body + "\r\n"
)
