#!/usr/bin/env python3
"""The end-to-end cases: workerd config generation and the checks. Standard library only.

Called by run.sh (which starts and stops the processes):

  harness.py config --build DIR --work DIR --ports FILE --sink-ports FILE
      Copies the built Worker (every file under DIR: *.js/*.mjs are ES modules, *.wasm
      Wasm modules; the main module is index.js, or E2E_MAIN) and ca.pem beside the
      config, writes WORK/workerd.capnp with one Worker service per case (its own
      bindings, its own HTTP socket "http-CASE" on 127.0.0.1:0; workerd reports the
      ports on its control fd) and WORK/cases.json. Prints how many sockets to wait for.

  harness.py test --work DIR --control FILE --out DIR --sink-dump DIR [CASE ...]
      POSTs each case's message to its Worker and checks the JSON reply and what the
      server received. Prints one line per case and "N passed, M failed"; exit 1 on any
      failure.

  harness.py list        names of the cases
"""

import argparse
import glob
import json
import os
import re
import shutil
import socket
import sys
import time
import urllib.error
import urllib.request

USER = "e2e-user@example.test"
PASSWORD = "e2e-secret"
MAIL_FROM = "sender@example.test"
EHLO_DOMAIN = "e2e-client.test"
COMPAT_DATE = os.environ.get("E2E_COMPAT_DATE", "2025-11-01")
COMPAT_FLAGS = [f for f in os.environ.get("E2E_COMPAT_FLAGS", "").replace(",", " ").split() if f]
HTTP_TIMEOUT = float(os.environ.get("E2E_HTTP_TIMEOUT", "30"))
SETTLE_TIMEOUT = 5.0  # bound on waiting for a server's files after the Worker answered


# ------------------------------------------------------------------------------ messages
def message_tricky():
    """Mixed line endings, leading dots, a smuggling attempt, no final line ending."""
    return (
        b"From: Sender <sender@example.test>\r\n"
        b"To: rcpt1@example.test, rcpt2@example.test\r\n"
        b"Subject: wasm-smtp e2e: STARTTLS + AUTH\r\n"
        b"Message-ID: <starttls-auth@e2e.example.test>\r\n"
        b"\r\n"
        b"CRLF line\r\n"
        b"bare LF line\n"
        b"bare CR line\r"
        b".leading dot\r\n"
        b"..two leading dots\r\n"
        b".\r\n"
        b"after a lone dot (must not end DATA)\n"
        b".\n"
        b"smuggling attempt above: LF . LF\r\n"
        b"last line without line ending"
    )


def message_large(lines=4000):
    """About 300 KB in 76-column lines, every 10th starting with a dot."""
    head = (
        b"From: sender@example.test\r\n"
        b"To: rcpt1@example.test\r\n"
        b"Subject: wasm-smtp e2e: implicit TLS, large body\r\n"
        b"\r\n"
    )
    body = []
    for i in range(lines):
        prefix = b"." if i % 10 == 0 else b""
        body.append(prefix + (b"%06d " % i) + b"abcdefghijklmnopqrstuvwxyz0123456789" * 2 + b"\r\n")
    return head + b"".join(body)


def message_simple(subject):
    return (
        b"From: sender@example.test\r\n"
        b"To: rcpt1@example.test\r\n"
        b"Subject: " + subject.encode() + b"\r\n"
        b"\r\n"
        b"Hello from the wasm-smtp end-to-end test.\r\n"
        b".a line with a leading dot\r\n"
    )


def normalize(msg):
    """The DATA encoder's line-ending rules: CRLF, bare CR and bare LF all become CRLF,
    and a message that does not end with a line ending gets CRLF."""
    out = re.sub(rb"\r\n|\r|\n", b"\r\n", msg)
    if not out.endswith(b"\r\n"):
        out += b"\r\n"
    return out


def expected_delivered(msg):
    """What the server stores: normalized, transparency dots removed again."""
    return normalize(msg)


def expected_wire(msg):
    """What must be on the wire after 354: normalized, dot-stuffed, '.' CRLF."""
    lines = normalize(msg).split(b"\r\n")[:-1]
    return b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n" for l in lines) + b".\r\n"


# ------------------------------------------------------------------------------ cases
# server: which listener the case talks to ("starttls", "implicit", "nostarttls",
# "refusestarttls" = servers.py; "sink", "sink_hard", "sink_soft" = smtp-sink; "closed").
# expect: "deliver" or an error_kind.
CASES = [
    dict(name="starttls_auth", server="starttls", host="localhost", tls="starttls",
         user=USER, password=PASSWORD, to=["rcpt1@example.test", "rcpt2@example.test"],
         message=message_tricky, expect="deliver",
         doc="587-style: STARTTLS then AUTH, two recipients, exact bytes after dot-unstuffing"),
    dict(name="smtps_auth", server="implicit", host="127.0.0.1", tls="smtps",
         user=USER, password=PASSWORD, to=["rcpt1@example.test"],
         message=message_large, expect="deliver",
         doc="465-style implicit TLS with AUTH, ~300 KB body"),
    dict(name="plain_sink", server="sink", host="127.0.0.1", tls="plain",
         to=["rcpt1@example.test", "rcpt2@example.test"],
         message=lambda: message_simple("plain to smtp-sink"), expect="deliver",
         doc="plaintext, no AUTH, to Postfix smtp-sink (dump compared line by line)"),
    dict(name="wrong_password", server="starttls", host="localhost", tls="starttls",
         user=USER, password="not-the-password", to=["rcpt1@example.test"],
         message=lambda: message_simple("wrong password"), expect="auth", transient=False,
         doc="535 to AUTH -> error_kind auth, nothing delivered"),
    dict(name="no_starttls", server="nostarttls", host="127.0.0.1", tls="starttls",
         user=USER, password=PASSWORD, to=["rcpt1@example.test"],
         message=lambda: message_simple("no starttls"), expect="tls",
         doc="server offers no STARTTLS (but offers AUTH) -> error_kind tls, no AUTH/MAIL sent"),
    dict(name="starttls_refused", server="refusestarttls", host="127.0.0.1", tls="starttls",
         user=USER, password=PASSWORD, to=["rcpt1@example.test"],
         message=lambda: message_simple("starttls refused"), expect="tls",
         doc="STARTTLS answered 454 -> error_kind tls, no AUTH/MAIL sent"),
    dict(name="untrusted_cert", server="starttls", host="localhost", tls="starttls",
         user=USER, password=PASSWORD, to=["rcpt1@example.test"], outbound="internet-nocas",
         message=lambda: message_simple("untrusted cert"), expect=("tls", "io"),
         doc="workerd does not trust the test CA -> handshake fails -> error_kind tls (or io: "
             "the runtime reports a failed handshake only as an opaque I/O error); "
             "no AUTH, nothing delivered"),
    dict(name="closed_port", server="closed", host="127.0.0.1", tls="plain",
         to=["rcpt1@example.test"], message=lambda: message_simple("closed port"),
         expect="connect", doc="nothing listens -> error_kind connect"),
    dict(name="port_25_blocked", server="port25", host="127.0.0.1", tls="plain",
         to=["rcpt1@example.test"], message=lambda: message_simple("port 25"),
         expect="port_blocked", doc="port 25 is refused before connecting (Cloudflare blocks it)"),
    dict(name="mail_rejected_hard", server="sink_hard", host="127.0.0.1", tls="plain",
         to=["rcpt1@example.test"], message=lambda: message_simple("hard reject"),
         expect="rejected", transient=False, doc="smtp-sink -f MAIL: 5xx -> rejected, permanent"),
    dict(name="mail_rejected_soft", server="sink_soft", host="127.0.0.1", tls="plain",
         to=["rcpt1@example.test"], message=lambda: message_simple("soft reject"),
         expect="rejected", transient=True, doc="smtp-sink -r MAIL: 4xx -> rejected, transient"),
]
CASE_BY_NAME = {c["name"]: c for c in CASES}


# ------------------------------------------------------------------------------ config
def capnp_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def cmd_config(args):
    ports = json.load(open(args.ports))
    ports.update(json.load(open(args.sink_ports)))
    ports["closed"] = free_port()  # bound and released: nothing listens there
    ports["port25"] = 25  # must be refused by the Worker before any connection

    wdir = os.path.join(args.work, "worker")
    if os.path.exists(wdir):
        shutil.rmtree(wdir)
    modules = []
    for root, _dirs, files in os.walk(args.build):
        for f in sorted(files):
            src = os.path.join(root, f)
            rel = os.path.relpath(src, args.build)
            if f.endswith((".js", ".mjs")):
                kind = "esModule"
            elif f.endswith(".wasm"):
                kind = "wasm"
            else:
                continue
            dst = os.path.join(wdir, rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copyfile(src, dst)
            modules.append((rel, kind))
    main = os.environ.get("E2E_MAIN") or next(
        (m for m in ("index.js", "shim.mjs", "worker/shim.mjs") if (m, "esModule") in modules), None)
    if main is None:
        sys.exit(f"harness: no index.js in {args.build} (set E2E_MAIN to the main module)")
    modules.sort(key=lambda m: m[0] != main)  # the main module comes first
    shutil.copyfile(args.ca, os.path.join(args.work, "ca.pem"))

    mod_text = ", ".join(
        f"(name = {capnp_str(rel)}, {kind} = embed {capnp_str('worker/' + rel)})" for rel, kind in modules)
    flags = ", ".join(capnp_str(f) for f in COMPAT_FLAGS)

    services, sockets, cases_out = [], [], {}
    for c in CASES:
        port = ports[c["server"]]
        b = {
            "SMTP_HOST": c["host"],
            "SMTP_PORT": str(port),
            "SMTP_TLS": c["tls"],
            "MAIL_FROM": MAIL_FROM,
            "MAIL_TO": ",".join(c["to"]),
            "EHLO_DOMAIN": EHLO_DOMAIN,
        }
        if c.get("user"):
            b["SMTP_USER"] = c["user"]
            b["SMTP_PASSWORD"] = c["password"]
        bindings = ",\n        ".join(f"(name = {capnp_str(k)}, text = {capnp_str(v)})" for k, v in b.items())
        outbound = f'\n      globalOutbound = "{c["outbound"]}",' if c.get("outbound") else ""
        services.append(f'''    (name = "case-{c["name"]}", worker = (
      compatibilityDate = "{COMPAT_DATE}",
      compatibilityFlags = [{flags}],
      modules = [{mod_text}],
      bindings = [
        {bindings}
      ],{outbound}
    )),''')
        sockets.append(f'    (name = "http-{c["name"]}", address = "127.0.0.1:0", http = (), service = "case-{c["name"]}"),')
        cases_out[c["name"]] = {"server": c["server"], "port": port, "bindings": b}

    config = f'''# Generated by e2e/harness.py: one Worker service per test case.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
{chr(10).join(services)}
    # Outbound network for every Worker: loopback allowed, the test CA trusted.
    (name = "internet", network = (
      allow = ["public", "private", "local"],
      tlsOptions = (trustBrowserCas = true, trustedCertificates = [embed "ca.pem"]),
    )),
    # The same without the test CA (for the untrusted-certificate case).
    (name = "internet-nocas", network = (
      allow = ["public", "private", "local"],
      tlsOptions = (trustBrowserCas = true),
    )),
  ],
  sockets = [
{chr(10).join(sockets)}
  ],
);
'''
    with open(os.path.join(args.work, "workerd.capnp"), "w") as f:
        f.write(config)
    with open(os.path.join(args.work, "cases.json"), "w") as f:
        json.dump(cases_out, f, indent=1)
    print(len(sockets))


# ------------------------------------------------------------------------------ checks
class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def post(port, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/send", data=body, method="POST",
                                 headers={"content-type": "message/rfc822"})
    try:
        with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:  # a 4xx/5xx with a JSON body is still an answer
        status, raw = e.code, e.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        raise Failure(f"HTTP {status}, body is not JSON: {raw[:300]!r}")


def listing(d, pattern):
    return set(glob.glob(os.path.join(d, pattern)))


def wait_new(d, pattern, before, want=1):
    """Bounded wait for at least `want` new files matching pattern (no fixed sleep)."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while True:
        new = sorted(listing(d, pattern) - before)
        if len(new) >= want or time.monotonic() > deadline:
            return new
        time.sleep(0.02)


def quiet_period_new(d, pattern, before, seconds=0.3):
    """For negative checks: what appeared within a short window after the answer."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.05)
    return sorted(listing(d, pattern) - before)


def parse_sink_dump(data):
    """Split an smtp-sink -d dump into (envelope dict, message bytes with LF endings)."""
    lines = data.split(b"\n")
    env = {"mail": None, "rcpt": [], "helo": None}
    i = 0
    while i < len(lines) and lines[i].startswith(b"X-"):
        k, _, v = lines[i].partition(b": ")
        if k == b"X-Mail-Args":
            env["mail"] = v.decode()
        elif k == b"X-Rcpt-Args":
            env["rcpt"].append(v.decode())
        elif k == b"X-Helo-Args":
            env["helo"] = v.decode()
        i += 1
    check(i < len(lines) and lines[i].startswith(b"Received: "), "sink dump: no Received line")
    i += 1
    while i < len(lines) and lines[i].startswith(b"\t"):
        i += 1
    body = b"\n".join(lines[i:])
    # The dump ends with an extra empty line after the message.
    check(body.endswith(b"\n\n"), "sink dump: not terminated by an empty line (incomplete?)")
    return env, body[:-1]


def conn_record(out, variant, before):
    new = wait_new(out, f"conn-*-{variant}.json", before)
    check(len(new) == 1, f"expected 1 connection record for {variant}, found {len(new)}")
    return json.load(open(new[0]))


def client_lines(conn):
    return [t for who, t in conn["transcript"] if who == "C"]


def run_case(c, http_port, out, sink_dump):
    name, server = c["name"], c["server"]
    msg = c["message"]()
    variant_files = f"*-{server}.*"
    before = listing(out, "*") if server not in ("sink", "sink_hard", "sink_soft", "closed") else set()
    sink_before = listing(sink_dump, "*")

    t0 = time.monotonic()
    status, res = post(http_port, msg)
    ms = (time.monotonic() - t0) * 1000
    detail = json.dumps(res)[:400]

    if c["expect"] == "deliver":
        check(res.get("ok") is True, f"expected ok:true, got {detail}")
        check(res.get("accepted") == len(c["to"]), f"accepted {res.get('accepted')} != {len(c['to'])}: {detail}")
        check(res.get("rejected") in ([], None), f"rejected not empty: {detail}")
        check(str(res.get("reply", "")).startswith("250"), f"reply does not start with 250: {detail}")
    else:
        check(res.get("ok") is False, f"expected ok:false, got {detail}")
        allowed = c["expect"] if isinstance(c["expect"], tuple) else (c["expect"],)
        check(res.get("error_kind") in allowed,
              f"error_kind {res.get('error_kind')!r} not in {allowed}: {detail}")
        if "transient" in c:
            check(res.get("transient") is c["transient"],
                  f"transient {res.get('transient')!r} != {c['transient']!r}: {detail}")

    if server in ("starttls", "implicit", "nostarttls", "refusestarttls"):
        conn = conn_record(out, server, before)
        clines = [l.upper() for l in client_lines(conn)]
        if c["expect"] == "deliver":
            new = wait_new(out, f"msg-*-{server}.json", before)
            check(len(new) == 1, f"expected 1 message on {server}, found {len(new)}")
            rec = json.load(open(new[0]))
            check(rec["tls"] is True, f"message not received over TLS: {rec}")
            check(rec["starttls"] is (c["tls"] == "starttls"), f"starttls flag {rec['starttls']}")
            check(rec["authenticated"] is True and rec["auth_user"] == c["user"],
                  f"not authenticated as {c['user']}: {rec['authenticated']} {rec['auth_user']}")
            check(rec["mail_from"] == MAIL_FROM, f"MAIL FROM {rec['mail_from']!r}")
            check(rec["rcpt_tos"] == c["to"], f"RCPT TO {rec['rcpt_tos']!r}")
            check(rec["ehlo"] == EHLO_DOMAIN, f"EHLO {rec['ehlo']!r} != {EHLO_DOMAIN!r}")
            got = open(os.path.join(out, rec["eml"]), "rb").read()
            want = expected_delivered(msg)
            check(got == want, f"delivered bytes differ: {describe_diff(want, got)}")
            wire = open(os.path.join(out, rec["wire"]), "rb").read()
            check(wire == expected_wire(msg), f"DATA wire bytes differ: {describe_diff(expected_wire(msg), wire)}")
            check(conn["auth_attempts"] and all(a["tls"] for a in conn["auth_attempts"]),
                  f"AUTH not sent, or sent without TLS: {conn['auth_attempts']}")
        else:
            new = sorted(listing(out, "msg-*") - before)
            check(not new, f"a message was delivered: {new}")
            if c["expect"] == "auth":
                check(conn["auth_attempts"] and not conn["auth_attempts"][-1]["success"],
                      f"no failed AUTH attempt recorded: {conn['auth_attempts']}")
                check(all(a["tls"] for a in conn["auth_attempts"]), "AUTH attempted without TLS")
            if "tls" in allowed:
                # Credentials must never go out on a connection that is not encrypted,
                # and no mail transaction may start.
                check(not conn["auth_attempts"], f"AUTH was attempted: {conn['auth_attempts']}")
                check(not any(l.startswith(("AUTH", "MAIL", "RCPT", "DATA")) for l in clines),
                      f"client went on after the TLS failure: {clines}")
    elif server == "sink":
        new = wait_new(sink_dump, "*", sink_before)
        check(len(new) == 1, f"expected 1 smtp-sink dump, found {len(new)}")
        # The dump may still be written when the Worker has its 250: bounded re-read.
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while True:
            try:
                env, body = parse_sink_dump(open(new[0], "rb").read())
                break
            except Failure:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        check(env["mail"] == f"<{MAIL_FROM}>", f"sink MAIL args {env['mail']!r}")
        check(env["rcpt"] == [f"<{r}>" for r in c["to"]], f"sink RCPT args {env['rcpt']!r}")
        check(env["helo"] == EHLO_DOMAIN, f"sink EHLO {env['helo']!r}")
        # smtp-sink stores lines with LF endings, dots already removed.
        want = expected_delivered(msg).replace(b"\r\n", b"\n")
        check(body == want, f"sink dump differs: {describe_diff(want, body)}")
    elif server in ("sink_hard", "sink_soft"):
        new = quiet_period_new(sink_dump, "*", sink_before)
        check(not new, f"smtp-sink stored a message: {new}")
    return ms, res


def describe_diff(want, got):
    n = next((i for i in range(min(len(want), len(got))) if want[i] != got[i]), min(len(want), len(got)))
    return (f"lengths want {len(want)} got {len(got)}; first difference at byte {n}: "
            f"want {want[max(0, n - 20):n + 20]!r} got {got[max(0, n - 20):n + 20]!r}")


def cmd_test(args):
    ports = {}
    for line in open(args.control):
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if ev.get("event") == "listen":
            ports[ev["socket"]] = ev["port"]
    names = args.cases or [c["name"] for c in CASES]
    unknown = [n for n in names if n not in CASE_BY_NAME]
    if unknown:
        sys.exit(f"harness: unknown case(s) {unknown}; known: {list(CASE_BY_NAME)}")
    passed = failed = 0
    for n in names:
        c = CASE_BY_NAME[n]
        try:
            port = ports.get(f"http-{n}")
            check(port is not None, f"workerd reported no socket http-{n}")
            ms, res = run_case(c, port, args.out, args.sink_dump)
            passed += 1
            extra = f"error_kind={res.get('error_kind')}" if not res.get("ok") else f"reply={res.get('reply')!r}"
            print(f"PASS {n:20s} {ms:7.0f} ms  {extra}", flush=True)
        except Failure as e:
            failed += 1
            print(f"FAIL {n:20s} {e}", flush=True)
            print(f"     ({c['doc']})", flush=True)
        except Exception as e:  # a harness or connection error is a failure too
            failed += 1
            print(f"FAIL {n:20s} {type(e).__name__}: {e}", flush=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("config")
    p.add_argument("--build", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--ports", required=True, help="servers.py ready file")
    p.add_argument("--sink-ports", required=True, help='JSON {"sink": N, "sink_hard": N, "sink_soft": N}')
    p.add_argument("--ca", required=True)
    p = sub.add_parser("test")
    p.add_argument("--work", required=True)
    p.add_argument("--control", required=True, help="workerd --control-fd output")
    p.add_argument("--out", required=True, help="servers.py output directory")
    p.add_argument("--sink-dump", required=True)
    p.add_argument("cases", nargs="*")
    sub.add_parser("list")
    args = ap.parse_args()
    if args.cmd == "config":
        cmd_config(args)
    elif args.cmd == "test":
        sys.exit(cmd_test(args))
    else:
        for c in CASES:
            print(f"{c['name']:20s} {c['doc']}")


if __name__ == "__main__":
    main()
