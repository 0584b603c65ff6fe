# SPDX-License-Identifier: AGPL-3.0-or-later
"""Helpers for exchange tests: multipart bodies, sending, link paths."""

import os
import urllib.parse


def multipart(fields=(), files=()):
    """(body bytes, content type) for form fields [(name, value)] then files [(name, filename, bytes)]."""
    boundary = "rampartTest" + os.urandom(12).hex()
    out = []
    for name, value in fields:
        out.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n" % (boundary, name)).encode())
        out.append(value.encode() if isinstance(value, str) else value)
        out.append(b"\r\n")
    for name, filename, data in files:
        fn = filename.replace("\\", "\\\\").replace('"', '\\"')
        out.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                    "Content-Type: application/octet-stream\r\n\r\n" % (boundary, name, fn)).encode())
        out.append(data)
        out.append(b"\r\n")
    out.append(("--%s--\r\n" % boundary).encode())
    return b"".join(out), "multipart/form-data; boundary=" + boundary


def send(client, to="recipient@partner.example", files=(("report.txt", b"hello\n"),), downloads=None,
         expires=None, message=None):
    """POST /api/v1/transfers; returns the Response."""
    fields = [("to", to)]
    if downloads is not None:
        fields.append(("downloads", str(downloads)))
    if expires is not None:
        fields.append(("expires", expires))
    if message is not None:
        fields.append(("message", message))
    body, ctype = multipart(fields, [("file", n, d) for n, d in files])
    return client.request("POST", "/api/v1/transfers", body=body, content_type=ctype)


def link_path(url):
    """The path of a link ("/x/...")."""
    return urllib.parse.urlsplit(url).path


def form(password):
    return urllib.parse.urlencode({"password": password})
