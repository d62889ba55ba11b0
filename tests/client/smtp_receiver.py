#!/usr/bin/python3
"""smtp_receiver.py SPOOL CERT KEY PORT[:tls] ...: receiving SMTP servers for
tests/client/test_policy_server.c (Debian's python3-aiosmtpd). Each PORT gets
a server on 127.0.0.1; with ":tls" it offers STARTTLS with CERT/KEY. Every
message is written to SPOOL/PORT/N.eml with a first line "X-Received-TLS: yes|no"
(whether the session was encrypted). Prints "ready" when all listen; stops on
SIGTERM."""
import os
import signal
import ssl
import sys
import threading

from aiosmtpd.controller import Controller


class Spool:
    def __init__(self, d):
        self.d = d
        self.n = 0
        os.makedirs(d, exist_ok=True)

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        tls = "yes" if session.ssl is not None else "no"
        tmp = os.path.join(self.d, ".%d.tmp" % self.n)
        with open(tmp, "wb") as f:
            f.write(b"X-Received-TLS: " + tls.encode() + b"\r\n")
            f.write(envelope.original_content or envelope.content)
        os.rename(tmp, os.path.join(self.d, "%d.eml" % self.n))
        return "250 OK"


def main():
    spool, cert, key = sys.argv[1:4]
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    ctrls = []
    for arg in sys.argv[4:]:
        port, _, mode = arg.partition(":")
        kw = {"tls_context": ctx} if mode == "tls" else {}
        c = Controller(Spool(os.path.join(spool, port)), hostname="127.0.0.1",
                       port=int(port), server_hostname="receiver.test", **kw)
        c.start()
        ctrls.append(c)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: done.set())
    print("ready", flush=True)
    done.wait()
    for c in ctrls:
        c.stop()


main()
