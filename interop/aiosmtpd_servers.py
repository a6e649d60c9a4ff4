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

import asyncio
import importlib.util
import os

HERE = os.path.dirname(os.path.abspath(__file__))
E2E_SERVERS = os.path.join(HERE, "..", "e2e", "servers.py")


def load_e2e_servers():
    spec = importlib.util.spec_from_file_location("e2e_servers", E2E_SERVERS)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


e2e = load_e2e_servers()


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


def rejectrcpt(args, common, tls_ctx):
    """The rejectrcpt variant: STARTTLS and AUTH offered, neither required."""
    handler = RejectingHandler(common["variant"], args.out, args.reject_prefix)
    return lambda: e2e.RecordingSMTP(handler, tls_context=tls_ctx, require_starttls=False,
                                     auth_require_tls=True, auth_required=False, **common), None


def add_reject_prefix(ap):
    ap.add_argument("--reject-prefix", default="reject")


if __name__ == "__main__":
    asyncio.run(e2e.main({"rejectrcpt": rejectrcpt}, add_reject_prefix, doc=__doc__))
