"""A local SMTP server for Sesame's tests (aiosmtpd).

Usage: python3 tests/smtp_sink.py OUT_DIR USER PASSWORD [PORT]

Listens on PORT (default: a free port) of 127.0.0.1 with AUTH (PLAIN/LOGIN, allowed without TLS) required for
USER/PASSWORD, prints `READY <port>` once it accepts connections, and writes each message it
receives to OUT_DIR/NNNN.json (numbered after the files already there, so a restarted sink adds
to them): envelope, headers, and the decoded text and HTML parts. It exits
when its standard input closes, or after 300 seconds.
"""

import email
import json
import logging
import os
import signal
import socket
import sys
import warnings
from email import policy

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink:
    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.count = len([f for f in os.listdir(out_dir) if f.endswith(".json")])

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=policy.default)
        text = msg.get_body(preferencelist=("plain",))
        html = msg.get_body(preferencelist=("html",))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "authenticated": bool(session.authenticated),
            "from": str(msg["From"]),
            "to": str(msg["To"]),
            "subject": str(msg["Subject"]),
            "content_type": msg.get_content_type(),
            "text": text.get_content() if text is not None else None,
            "html": html.get_content() if html is not None else None,
        }
        self.count += 1
        path = os.path.join(self.out_dir, f"{self.count:04d}.json")
        with open(path + ".tmp", "w") as f:
            json.dump(record, f)
        os.replace(path + ".tmp", path)
        return "250 OK"


def main():
    # aiosmtpd warns that AUTH without TLS is unsafe: deliberate here, on loopback.
    warnings.simplefilter("ignore")
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    out_dir, user, password = sys.argv[1], sys.argv[2].encode(), sys.argv[3].encode()

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == user and auth_data.password == password
        return AuthResult(success=ok, handled=False)

    if len(sys.argv) > 4:
        port = int(sys.argv[4])
    else:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
    controller = Controller(
        Sink(out_dir),
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    print(f"READY {port}", flush=True)
    signal.alarm(300)
    sys.stdin.read()
    controller.stop()


if __name__ == "__main__":
    main()
