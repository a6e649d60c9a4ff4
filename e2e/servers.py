#!/usr/bin/env python3
"""Real SMTP servers (aiosmtpd) on loopback for the end-to-end tests.

One process runs every variant asked for, each on its own 127.0.0.1 port:

  starttls         587-style submission: STARTTLS offered and required before anything
                   else (require_starttls), AUTH PLAIN/LOGIN offered only after TLS
                   (auth_require_tls), AUTH required before MAIL.
  implicit         465-style submission: TLS from the first byte (SSL context on the
                   listening socket), AUTH PLAIN/LOGIN, AUTH required before MAIL.
  nostarttls       offers no STARTTLS but does offer AUTH on the plaintext connection
                   (a client that requires TLS must refuse it, and must not send AUTH).
  refusestarttls   offers STARTTLS and answers it with 454 (temporary refusal).

Usage:

  servers.py --out DIR --ready FILE --cert CERT --key KEY \
      [--starttls PORT] [--implicit PORT] [--nostarttls PORT] [--refusestarttls PORT] \
      [--user USER] [--password PASSWORD] [--log FILE] [--host ADDRESS]

Every variant listens on ADDRESS (default 127.0.0.1; the embassy TAP run passes the TAP
peer's link-local address). PORT 0 picks a free port. When every listener is up, FILE is written (atomically) as
JSON: {"starttls": 40123, ...}. The harness waits for that file; no sleeps.

Output, in DIR, one set of files per accepted message (N counts messages of all
variants from 1, in arrival order):

  msg-N-VARIANT.json   envelope and session facts: mail_from, mail_options, rcpt_tos,
                       rcpt_options, tls (bool), tls_version, starttls (bool: TLS came
                       from STARTTLS), ehlo, authenticated, auth_user, auth_mechanism,
                       size, sha256, and the names of the two files below
  msg-N-VARIANT.eml    the message as delivered: DATA with the transparency dots removed
                       (RFC 5321 4.5.2), CRLF line ends as sent, without the final
                       ".\\r\\n"; what a test compares to the message it sent
  msg-N-VARIANT.wire   the exact DATA bytes read off the connection after the 354
                       reply, dot-stuffed, including the final ".\\r\\n"

and one file per connection, written when it closes (for the negative tests: was AUTH
sent? in plaintext?):

  conn-N-VARIANT.json  variant, tls, starttls, auth_attempts ([{mechanism, user,
                       success, tls}]), messages (count), and transcript: every line
                       as ["C", text] / ["S", text]; AUTH payloads are kept (test
                       credentials only).
"""

import argparse
import asyncio
import hashlib
import itertools
import json
import logging
import os
import signal
import ssl
import sys
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

VARIANTS = ("starttls", "implicit", "nostarttls", "refusestarttls")
HOSTNAME = "e2e-smtp.localhost"  # fixed: no getfqdn() lookup at start

msg_counter = itertools.count(1)
conn_counter = itertools.count(1)
logging_on = False  # set once every listener is up (skips nothing real: nothing connects before)


def write_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def tls_facts(transport):
    try:
        obj = transport.get_extra_info("ssl_object") if transport is not None else None
    except AttributeError:  # an SSL transport that is already closed
        obj = None
    if obj is None:
        return False, None
    return True, obj.version()


class RecordingSMTP(SMTP):
    """aiosmtpd's SMTP that keeps a transcript and the raw DATA bytes."""

    def __init__(self, handler, *, variant, out_dir, **kwargs):
        super().__init__(handler, **kwargs)
        self.variant = variant
        self.out_dir = out_dir
        self.transcript = []
        self.auth_attempts = []
        self.messages = 0
        self.data_wire = None  # list of raw lines while a DATA command is read
        self.used_starttls = False
        self.tls = (False, None)  # (on, version), as seen when the connection (re)started
        self._wrapped = False

    # -- recording -----------------------------------------------------------------
    def _wrap_reader(self):
        if self._wrapped:
            return
        self._wrapped = True
        reader = self._reader
        orig_until = reader.readuntil

        # Every line the server reads goes through readuntil (StreamReader.readline
        # calls it too, so wrapping readline as well would record AUTH LOGIN twice).
        async def readuntil(separator=b"\n"):
            line = await orig_until(separator)
            self._record_client(line)
            return line

        reader.readuntil = readuntil

    def _record_client(self, line):
        if self.data_wire is not None:
            self.data_wire.append(bytes(line))
        else:
            self.transcript.append(["C", bytes(line).decode("utf-8", "backslashreplace").rstrip("\r\n")])

    async def push(self, status):
        text = status.decode("utf-8", "backslashreplace") if isinstance(status, bytes) else status
        self.transcript.append(["S", text])
        await super().push(status)

    def connection_made(self, transport):
        super().connection_made(transport)
        self._wrap_reader()
        if self._original_transport is not None:
            self.used_starttls = True
        self.tls = tls_facts(transport)

    def connection_lost(self, error):
        try:
            if logging_on:
                tls, version = self.tls
                n = next(conn_counter)
                rec = {
                    "variant": self.variant,
                    "peer": list(self.session.peer) if self.session and self.session.peer else None,
                    "tls": tls,
                    "tls_version": version,
                    "starttls": self.used_starttls,
                    "auth_attempts": self.auth_attempts,
                    "messages": self.messages,
                    "transcript": self.transcript,
                }
                path = os.path.join(self.out_dir, f"conn-{n}-{self.variant}.json")
                write_atomic(path, json.dumps(rec, indent=1).encode())
        finally:
            super().connection_lost(error)

    # -- DATA: keep the wire bytes -----------------------------------------------------
    async def smtp_DATA(self, arg):
        self.transcript.append(["C", "<DATA lines: see msg-*.wire>"])
        self.data_wire = []
        try:
            await super().smtp_DATA(arg)
        finally:
            self.data_wire = None


class RefuseStartTLS(RecordingSMTP):
    async def smtp_STARTTLS(self, arg):
        await self.push("454 4.7.0 TLS not available due to temporary reason")


class Handler:
    def __init__(self, variant, out_dir):
        self.variant = variant
        self.out_dir = out_dir

    async def handle_DATA(self, server, session, envelope):
        n = next(msg_counter)
        base = f"msg-{n}-{self.variant}"
        content = envelope.original_content or b""
        wire = b"".join(server.data_wire or [])
        tls, version = server.tls
        auth = session.auth_data if session.authenticated else None
        rec = {
            "variant": self.variant,
            "seq": n,
            "peer": list(session.peer) if session.peer else None,
            "ehlo": session.host_name,
            "tls": tls,
            "tls_version": version,
            "starttls": server.used_starttls,
            "authenticated": bool(session.authenticated),
            "auth_user": auth["user"] if auth else None,
            "auth_mechanism": auth["mechanism"] if auth else None,
            "mail_from": envelope.mail_from,
            "mail_options": envelope.mail_options,
            "rcpt_tos": envelope.rcpt_tos,
            "rcpt_options": envelope.rcpt_options,
            "size": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
            "eml": base + ".eml",
            "wire": base + ".wire",
        }
        write_atomic(os.path.join(self.out_dir, base + ".eml"), content)
        write_atomic(os.path.join(self.out_dir, base + ".wire"), wire)
        write_atomic(os.path.join(self.out_dir, base + ".json"), json.dumps(rec, indent=1).encode())
        server.messages += 1
        return f"250 2.0.0 Ok: queued as e2e-{n}"


def make_authenticator(user, password):
    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = False
        login = None
        if isinstance(auth_data, LoginPassword):
            login = auth_data.login.decode("utf-8", "replace")
            ok = auth_data.login == user.encode() and auth_data.password == password.encode()
        tls = server.tls[0]
        server.auth_attempts.append({"mechanism": mechanism, "user": login, "success": ok, "tls": tls})
        if ok:
            return AuthResult(success=True, auth_data={"user": login, "mechanism": mechanism})
        # handled=False: let aiosmtpd send the 535 reply (handled=True sends nothing).
        return AuthResult(success=False, handled=False)

    return authenticator


async def main(extra_variants=None, extend_args=None, doc=__doc__):
    """Run the variants asked for on the command line until SIGTERM.

    `extra_variants` maps further variant names to `make(args, common, tls_ctx)`, which
    returns `(protocol_factory, ssl_context_or_None)` like the built-in ones below;
    `extend_args(parser)` adds their options. interop/aiosmtpd_servers.py uses both.
    """
    global logging_on
    extra_variants = extra_variants or {}
    variants = tuple(VARIANTS) + tuple(extra_variants)
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--ready", required=True)
    ap.add_argument("--cert", required=True, help="server certificate (PEM, chain allowed)")
    ap.add_argument("--key", required=True)
    ap.add_argument("--user", default="e2e-user@example.test")
    ap.add_argument("--password", default="e2e-secret")
    ap.add_argument("--log", help="aiosmtpd log file (debug level)")
    ap.add_argument("--host", default="127.0.0.1",
                    help="address to listen on (default 127.0.0.1; the TAP run uses its peer address)")
    if extend_args:
        extend_args(ap)
    for v in variants:
        ap.add_argument(f"--{v}", type=int, metavar="PORT")
    args = ap.parse_args()

    # The implicit-TLS server requires AUTH with auth_require_tls=False (its socket is TLS,
    # which aiosmtpd does not see): silence the warning about that.
    warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
    if args.log:
        logging.basicConfig(filename=args.log, level=logging.DEBUG,
                            format="%(asctime)s %(name)s %(levelname)s %(message)s")
    os.makedirs(args.out, exist_ok=True)

    tls_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls_ctx.load_cert_chain(args.cert, args.key)
    auth = make_authenticator(args.user, args.password)

    def factory(variant):
        common = dict(variant=variant, out_dir=args.out, hostname=HOSTNAME, authenticator=auth)
        handler = Handler(variant, args.out)
        if variant == "starttls":
            return lambda: RecordingSMTP(handler, tls_context=tls_ctx, require_starttls=True,
                                         auth_require_tls=True, auth_required=True, **common), None
        if variant == "implicit":
            # The socket is TLS already; aiosmtpd only knows about STARTTLS, so
            # auth_require_tls would hide AUTH here.
            return lambda: RecordingSMTP(handler, auth_require_tls=False, auth_required=True,
                                         **common), tls_ctx
        if variant == "nostarttls":
            return lambda: RecordingSMTP(handler, auth_require_tls=False, **common), None
        if variant == "refusestarttls":
            return lambda: RefuseStartTLS(handler, tls_context=tls_ctx, auth_require_tls=True,
                                          **common), None
        return extra_variants[variant](args, common, tls_ctx)

    loop = asyncio.get_running_loop()
    servers, ports = [], {}
    for v in variants:
        port = getattr(args, v)
        if port is None:
            continue
        proto, ssl_ctx = factory(v)
        srv = await loop.create_server(proto, host=args.host, port=port, ssl=ssl_ctx,
                                       reuse_address=True)
        servers.append(srv)
        ports[v] = srv.sockets[0].getsockname()[1]
    if not servers:
        ap.error("no server variant asked for")

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    logging_on = True
    write_atomic(args.ready, json.dumps(ports).encode())
    print(f"{os.path.basename(sys.argv[0])}: listening {ports}", file=sys.stderr, flush=True)
    await stop.wait()
    for s in servers:
        s.close()
    try:
        os.unlink(args.ready)
    except FileNotFoundError:
        pass


if __name__ == "__main__":
    asyncio.run(main())
