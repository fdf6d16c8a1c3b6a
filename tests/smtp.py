"""A small real SMTP server for tests (RFC 5321's commands that smtplib uses, AUTH PLAIN and LOGIN).

It listens on 127.0.0.1 in a thread and keeps every message it accepts, parsed, in `messages`.
`refuse = True` makes it answer 451 to MAIL FROM, as a server that is down for a moment would;
`refuse_next = n` does so n times, then accepts again.
"""

from __future__ import annotations

import base64
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def reply(self, line: str) -> None:
        self.wfile.write(f"{line}\r\n".encode())

    def handle(self) -> None:
        self.reply("220 localhost test SMTP ready")
        sender, recipients = "", []
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            verb = line[:4].upper()
            if verb == "EHLO":
                self.reply("250-localhost")
                self.reply("250-AUTH PLAIN LOGIN")
                self.reply("250 8BITMIME")
            elif verb == "HELO":
                self.reply("250 localhost")
            elif verb == "AUTH":
                self.auth(line.split()[1:])
            elif verb == "MAIL":
                if self.server.refuse or self.server.refuse_next > 0:
                    self.server.refuse_next -= 1
                    self.server.refused += 1
                    self.reply("451 4.3.0 try again later")
                    continue
                sender, recipients = line.split(":", 1)[1].split()[0].strip("<>"), []
                self.reply("250 OK")
            elif verb == "RCPT":
                recipients.append(line.split(":", 1)[1].split()[0].strip("<>"))
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 end with <CRLF>.<CRLF>")
                body = bytearray()
                while (chunk := self.rfile.readline()) not in (b".\r\n", b".\n", b""):
                    body += chunk[1:] if chunk.startswith(b"..") else chunk  # undo dot-stuffing
                mail = message_from_bytes(bytes(body), policy=policy.default)
                with self.server.lock:
                    self.server.messages.append((sender, recipients, mail))  # type: ignore[arg-type]
                self.reply("250 OK queued")
            elif verb in ("RSET", "NOOP"):
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 command not implemented")

    def auth(self, args: list[str]) -> None:
        mechanism = args[0].upper() if args else ""
        if mechanism == "PLAIN":
            token = args[1] if len(args) > 1 else self._ask("")
            _, user, password = base64.b64decode(token).decode().split("\0")
        elif mechanism == "LOGIN":
            user = base64.b64decode(args[1] if len(args) > 1 else self._ask("VXNlcm5hbWU6")).decode()
            password = base64.b64decode(self._ask("UGFzc3dvcmQ6")).decode()
        else:
            self.reply("504 unrecognised mechanism")
            return
        self.server.logins.append((user, password))
        self.reply("235 authenticated")

    def _ask(self, challenge: str) -> str:
        self.reply(f"334 {challenge}")
        return self.rfile.readline().decode().strip()


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.messages: list[tuple[str, list[str], EmailMessage]] = []
        self.logins: list[tuple[str, str]] = []
        self.refuse = False
        self.refuse_next = 0
        self.refused = 0
        self.lock = threading.Lock()

    @property
    def port(self) -> int:
        return int(self.server_address[1])


@contextmanager
def smtp_server() -> Iterator[_Server]:
    server = _Server()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
