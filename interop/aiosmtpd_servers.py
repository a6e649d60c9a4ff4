#!/usr/bin/env python3
"""aiosmtpd servers for the interoperability suite: e2e/servers.py plus one variant.

Reuses e2e/servers.py (imported from its file, not copied): the same recording server
(RecordingSMTP), message handler (Handler, msg-N-VARIANT.{eml,json,wire} files),
authenticator and ready-file protocol. Variants:

  starttls, implicit, nostarttls, refusestarttls   exactly as in e2e/servers.py
  rejectrcpt   STARTTLS offered (not required), AUTH PLAIN/LOGIN offered after TLS (not
               required); RCPT TO an address whose local part starts with the reject
               prefix (default "reject", case-insensitive) is answered
               "550 5.1.1 <ADDR>: Recipient address rejected (interop test)", every
               other recipient "250 2.1.5 OK". Accepted messages are stored like the
               other variants (msg-N-rejectrcpt.*; rcpt_tos holds only the accepted).

Usage (run with the aiosmtpd venv's python, see e2e/versions.sh):

  aiosmtpd_servers.py --out DIR --ready FILE --cert CERT --key KEY \
      [--starttls PORT] [--implicit PORT] [--nostarttls PORT] [--refusestarttls PORT] \
      [--rejectrcpt PORT] [--reject-prefix PREFIX] [--user U] [--password P] [--log FILE]

PORT 0 picks a free port. FILE is written (atomically) as JSON {"variant": port, ...}
once every listener is up.
"""

import argparse
import asyncio
import importlib.util
import json
import logging
import os
import signal
import ssl
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
E2E_SERVERS = os.path.join(HERE, "..", "e2e", "servers.py")


def load_e2e_servers():
    spec = importlib.util.spec_from_file_location("e2e_servers", E2E_SERVERS)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


e2e = load_e2e_servers()
VARIANTS = tuple(e2e.VARIANTS) + ("rejectrcpt",)


class RejectingHandler(e2e.Handler):
    """e2e Handler that refuses recipients whose local part starts with a prefix."""

    def __init__(self, variant, out_dir, prefix):
        super().__init__(variant, out_dir)
        self.prefix = prefix.lower()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.rsplit("@", 1)[0] if "@" in address else address
        if local.lower().startswith(self.prefix):
            return f"550 5.1.1 <{address}>: Recipient address rejected (interop test)"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"


async def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--ready", required=True)
    ap.add_argument("--cert", required=True, help="server certificate (PEM, chain allowed)")
    ap.add_argument("--key", required=True)
    ap.add_argument("--user", default="alice")
    ap.add_argument("--password", default="interop-secret")
    ap.add_argument("--reject-prefix", default="reject")
    ap.add_argument("--log", help="aiosmtpd log file (debug level)")
    for v in VARIANTS:
        ap.add_argument(f"--{v}", type=int, metavar="PORT")
    args = ap.parse_args()

    warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
    if args.log:
        logging.basicConfig(filename=args.log, level=logging.DEBUG,
                            format="%(asctime)s %(name)s %(levelname)s %(message)s")
    os.makedirs(args.out, exist_ok=True)

    tls_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls_ctx.load_cert_chain(args.cert, args.key)
    auth = e2e.make_authenticator(args.user, args.password)

    # Same server settings as e2e/servers.py main() for its four variants.
    def factory(variant):
        common = dict(variant=variant, out_dir=args.out, hostname=e2e.HOSTNAME, authenticator=auth)
        handler = e2e.Handler(variant, args.out)
        if variant == "starttls":
            return lambda: e2e.RecordingSMTP(handler, tls_context=tls_ctx, require_starttls=True,
                                             auth_require_tls=True, auth_required=True, **common), None
        if variant == "implicit":
            return lambda: e2e.RecordingSMTP(handler, auth_require_tls=False, auth_required=True,
                                             **common), tls_ctx
        if variant == "nostarttls":
            return lambda: e2e.RecordingSMTP(handler, auth_require_tls=False, **common), None
        if variant == "refusestarttls":
            return lambda: e2e.RefuseStartTLS(handler, tls_context=tls_ctx, auth_require_tls=True,
                                              **common), None
        if variant == "rejectrcpt":
            rhandler = RejectingHandler(variant, args.out, args.reject_prefix)
            return lambda: e2e.RecordingSMTP(rhandler, tls_context=tls_ctx, require_starttls=False,
                                             auth_require_tls=True, auth_required=False, **common), None
        raise AssertionError(variant)

    loop = asyncio.get_running_loop()
    servers, ports = [], {}
    for v in VARIANTS:
        port = getattr(args, v)
        if port is None:
            continue
        proto, ssl_ctx = factory(v)
        srv = await loop.create_server(proto, host="127.0.0.1", port=port, ssl=ssl_ctx,
                                       reuse_address=True)
        servers.append(srv)
        ports[v] = srv.sockets[0].getsockname()[1]
    if not servers:
        ap.error("no server variant asked for")

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    e2e.logging_on = True  # read by RecordingSMTP.connection_lost in the e2e module
    e2e.write_atomic(args.ready, json.dumps(ports).encode())
    print(f"aiosmtpd_servers.py: listening {ports}", file=sys.stderr, flush=True)
    await stop.wait()
    for s in servers:
        s.close()
    try:
        os.unlink(args.ready)
    except FileNotFoundError:
        pass


if __name__ == "__main__":
    asyncio.run(main())
