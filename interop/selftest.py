#!/usr/bin/env python3
"""Self-test of the interop servers with Python's smtplib (stdlib only: /usr/bin/python3).

  python3 interop/selftest.py [ENV]     # ENV: DIR/servers.env (default $INTEROP_ENV)
                                        #      or DIR itself

Against a DIR started by `bash interop/servers.sh start DIR`: STARTTLS verified with the
test CA, implicit TLS, AUTH PLAIN and LOGIN (and a wrong password), messages with
dot-leading lines, an 8-bit body, 998-octet lines and a 10 MiB body, sent to aiosmtpd
and to Postfix (and smtp-sink), and the stored bytes compared with what was sent
(interop/delivered.py). Also every smtp-sink fault knob, Postfix's rejected recipient,
its TLS-required and implicit-TLS ports and an SMTPUTF8 message. One line per check;
exits 1 if any check fails.
"""

import hashlib
import os
import smtplib
import socket
import ssl
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import delivered  # noqa: E402

CLIENT = "selftest.interop.test"
FROM = "sender@interop.test"
results = []


def check(name, cond, detail=""):
    results.append((name, bool(cond)))
    print(f"{'PASS' if cond else 'FAIL'} {name}" + (f": {detail}" if detail and not cond else ""), flush=True)
    return bool(cond)


def diff(want, got):
    if want == got:
        return "equal"
    n = min(len(want), len(got))
    i = next((k for k in range(n) if want[k] != got[k]), n)
    return (f"differ at offset {i} (sent {len(want)} bytes, stored {len(got)}): "
            f"sent {want[max(0, i - 20):i + 20]!r} stored {got[max(0, i - 20):i + 20]!r}")


# ------------------------------------------------------------------------------ messages
def message(tag, body, extra_headers=b""):
    mid = f"{tag}.{uuid.uuid4().hex}@interop.test"
    head = (f"From: Sender <{FROM}>\r\nTo: rcpt@interop.test\r\nSubject: selftest {tag}\r\n"
            f"Message-ID: <{mid}>\r\nDate: Sun, 29 Nov 2026 12:00:00 +0000\r\n").encode()
    return mid, head + extra_headers + b"\r\n" + body


BODY_DOTS = (b".leading dot\r\n..two leading dots\r\n.\r\n. \r\n...\r\nnot.leading\r\n"
             b"\r\n.\r\n")
BODY_8BIT = ("Gr\u00fc\u00dfe, na\u00efve caf\u00e9 \u2014 \u65e5\u672c\u8a9e \U0001F600\r\n".encode()
             + b"latin-1 bytes: \xe9\xe8\xff\x80\r\n.\xc3\xa9 dot then 8-bit\r\n")
BODY_998 = (b"x" * 998 + b"\r\n" + b"." + b"y" * 997 + b"\r\n"
            + "\u00e9".encode() * 499 + b"\r\nshort\r\n")


def body_10mib():
    # Deterministic lines of varying length (1..998), some dot-leading, 8-bit sprinkled.
    out, size, i = [], 0, 0
    while size < 10 * 1024 * 1024:
        h = hashlib.sha256(str(i).encode()).digest()
        n = 1 + (h[0] << 8 | h[1]) % 998
        line = (h.hex() * 32)[:n].encode()
        if h[2] % 7 == 0:
            line = b"." + line[1:]
        if h[3] % 11 == 0 and n >= 3:
            line = line[:-2] + b"\xc3\xa9"  # same length, ends in UTF-8 "e acute"
        out.append(line + b"\r\n")
        size += len(line) + 2
        i += 1
    return b"".join(out)


def stuffed(msg):
    lines = msg.split(b"\r\n")
    return b"\r\n".join(b"." + l if l.startswith(b".") else l for l in lines)


# ------------------------------------------------------------------------------ helpers
def tls_ctx(env):
    return ssl.create_default_context(cafile=env["INTEROP_CA"])


def connect(env, port, mode="plain"):
    if mode == "implicit":
        s = smtplib.SMTP_SSL(env["INTEROP_HOST"], int(port), local_hostname=CLIENT,
                             context=tls_ctx(env), timeout=60)
    else:
        s = smtplib.SMTP(env["INTEROP_HOST"], int(port), local_hostname=CLIENT, timeout=60)
    s.ehlo()
    if mode == "starttls":
        s.starttls(context=tls_ctx(env))
        s.ehlo()
    return s


def quit_(s):
    try:
        s.quit()
    except (smtplib.SMTPException, OSError):
        s.close()


def fetch_one(env, server, mid, expect=1, **kw):
    try:
        hits = delivered.fetch(env, server, message_id=mid, expect=expect, timeout=30, **kw)
    except delivered.Unexpected as e:
        return None, str(e)
    if hits is None:
        return None, "not found"
    return hits, ""


def compare(name, env, server, mid, sent, expect=1, **kw):
    hits, why = fetch_one(env, server, mid, expect, **kw)
    if not hits:
        return check(name, False, why), None
    ok = all(h[2] == sent for h in hits)
    return check(name, ok, diff(sent, hits[0][2])), hits


def wait_until(pred, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


# ------------------------------------------------------------------------------ aiosmtpd
def test_aiosmtpd(env, big):
    user, pw = env["INTEROP_USER"], env["INTEROP_PASSWORD"]
    port = env["AIOSMTPD_STARTTLS_PORT"]
    s = connect(env, port)
    check("aiosmtpd starttls: STARTTLS offered, AUTH hidden before TLS",
          s.has_extn("starttls") and not s.has_extn("auth"), repr(s.esmtp_features))
    code, _ = s.mail(FROM)
    check("aiosmtpd starttls: MAIL before STARTTLS refused (530)", code == 530, str(code))
    s.rset()
    s.starttls(context=tls_ctx(env))
    s.ehlo()
    check("aiosmtpd starttls: AUTH PLAIN LOGIN after TLS (CA-verified)",
          "PLAIN" in s.esmtp_features.get("auth", "") and "LOGIN" in s.esmtp_features.get("auth", ""),
          repr(s.esmtp_features))
    try:
        s.login(user, pw + "-wrong")
        check("aiosmtpd starttls: wrong password refused", False, "accepted")
    except smtplib.SMTPAuthenticationError as e:
        check("aiosmtpd starttls: wrong password refused (535)", e.smtp_code == 535, str(e))
    s.login(user, pw)  # PLAIN (smtplib prefers it over LOGIN)
    for tag, body in (("dots", BODY_DOTS), ("8bit", BODY_8BIT), ("998", BODY_998), ("10mib", big)):
        mid, msg = message(f"aio-{tag}", body)
        t = time.monotonic()
        s.sendmail(FROM, ["bob@interop.test"], msg, mail_options=["BODY=8BITMIME"])
        ok, hits = compare(f"aiosmtpd starttls+PLAIN: {tag} ({len(msg)} bytes, {time.monotonic() - t:.2f}s) stored exactly",
                           env, "aiosmtpd", mid, msg, variant="starttls")
        if hits:
            meta = hits[0][1]
            check(f"aiosmtpd starttls+PLAIN: {tag} session facts",
                  meta["tls"] and meta["starttls"] and meta["auth_user"] == user
                  and meta["auth_mechanism"] == "PLAIN" and "BODY=8BITMIME" in meta["mail_options"], repr(meta))
            with open(os.path.join(env["AIOSMTPD_SPOOL"], meta["wire"]), "rb") as f:
                wire = f.read()
            check(f"aiosmtpd starttls+PLAIN: {tag} wire bytes are the dot-stuffed message + .CRLF",
                  wire == stuffed(msg) + b".\r\n", diff(stuffed(msg) + b".\r\n", wire))
    quit_(s)

    s = connect(env, port, "starttls")
    s.user, s.password = user, pw
    code, _ = s.auth("LOGIN", s.auth_login, initial_response_ok=False)
    check("aiosmtpd starttls: AUTH LOGIN (235)", code == 235, str(code))
    mid, msg = message("aio-login", BODY_DOTS)
    s.sendmail(FROM, ["bob@interop.test"], msg)
    ok, hits = compare("aiosmtpd starttls+LOGIN: stored exactly", env, "aiosmtpd", mid, msg, variant="starttls")
    if hits:
        check("aiosmtpd starttls+LOGIN: mechanism LOGIN recorded", hits[0][1]["auth_mechanism"] == "LOGIN")
    quit_(s)

    s = connect(env, env["AIOSMTPD_IMPLICIT_PORT"], "implicit")
    s.login(user, pw)
    mid, msg = message("aio-implicit", BODY_DOTS + BODY_8BIT + BODY_998)
    s.sendmail(FROM, ["bob@interop.test", "carol@interop.test"], msg, mail_options=["BODY=8BITMIME"])
    ok, hits = compare("aiosmtpd implicit TLS + AUTH: stored exactly", env, "aiosmtpd", mid, msg, variant="implicit")
    if hits:
        m = hits[0][1]
        check("aiosmtpd implicit: facts (tls, not starttls, 2 rcpts)",
              m["tls"] and not m["starttls"] and m["rcpt_tos"] == ["bob@interop.test", "carol@interop.test"], repr(m))
    quit_(s)

    prefix = env["INTEROP_REJECT_PREFIX"]
    s = connect(env, env["AIOSMTPD_REJECTRCPT_PORT"])
    mid, msg = message("aio-reject", BODY_DOTS)
    refused = s.sendmail(FROM, [f"{prefix}-me@interop.test", "ok@interop.test"], msg)
    code = refused.get(f"{prefix}-me@interop.test", (None,))[0]
    check("aiosmtpd rejectrcpt: reject* recipient refused with 550, other accepted",
          code == 550 and len(refused) == 1, repr(refused))
    ok, hits = compare("aiosmtpd rejectrcpt: stored exactly", env, "aiosmtpd", mid, msg, variant="rejectrcpt")
    if hits:
        check("aiosmtpd rejectrcpt: only the accepted recipient recorded",
              hits[0][1]["rcpt_tos"] == ["ok@interop.test"], repr(hits[0][1]["rcpt_tos"]))
    quit_(s)


# ------------------------------------------------------------------------------ smtp-sink
def spool_files(env, name):
    return sorted(os.listdir(env[f"{name}_SPOOL"]))


def test_sinks(env, big):
    s = connect(env, env["SINK_PORT"])
    for tag, body in (("dots", BODY_DOTS), ("8bit", BODY_8BIT), ("998", BODY_998), ("10mib", big)):
        mid, msg = message(f"sink-{tag}", body)
        s.sendmail(FROM, ["bob@interop.test", "carol@interop.test"], msg, mail_options=["BODY=8BITMIME"])
        ok, hits = compare(f"smtp-sink: {tag} ({len(msg)} bytes) stored (dots removed, LF->CRLF)",
                           env, "SINK", mid, msg)
        if hits and tag == "dots":
            m = hits[0][1]
            check("smtp-sink: envelope in the dump",
                  m["mail_args"] == f"<{FROM}> BODY=8BITMIME" and
                  m["rcpt_args"] == ["<bob@interop.test>", "<carol@interop.test>"] and
                  m["helo_args"] == CLIENT and m["client_proto"] == "ESMTP", repr(m))
    quit_(s)

    def rejected_at(name, stage, want_code):
        s = connect(env, env[f"{name}_PORT"])
        code, text = s.mail(FROM)
        if stage == "RCPT":
            code, text = s.rcpt("bob@interop.test")
        check(f"{name}: {stage} answered {want_code}", code == want_code, f"{code} {text!r}")
        check(f"{name}: no PIPELINING advertised", not s.has_extn("pipelining"))
        quit_(s)

    rejected_at("SINK_SOFT_RCPT", "RCPT", 450)
    rejected_at("SINK_HARD_RCPT", "RCPT", 550)
    rejected_at("SINK_SOFT_MAIL", "MAIL", 451)
    rejected_at("SINK_HARD_MAIL", "MAIL", 550)

    for name, want in (("SINK_SOFT_DOT", 451), ("SINK_HARD_DOT", 554)):
        s = connect(env, env[f"{name}_PORT"])
        mid, msg = message(name.lower(), BODY_DOTS)
        try:
            s.sendmail(FROM, ["bob@interop.test"], msg)
            check(f"{name}: end of DATA answered {want}", False, "accepted")
        except smtplib.SMTPDataError as e:
            check(f"{name}: end of DATA answered {want}", e.smtp_code == want, str(e))
        compare(f"{name}: message stored anyway", env, name, mid, msg)
        quit_(s)

    s = connect(env, env["SINK_DROP_DATA_PORT"])
    s.mail(FROM)
    s.rcpt("bob@interop.test")
    try:
        code, _ = s.docmd("DATA")
        check("SINK_DROP_DATA: connection closed at DATA without reply", False, f"got {code}")
    except smtplib.SMTPServerDisconnected:
        check("SINK_DROP_DATA: connection closed at DATA without reply", True)
    check("SINK_DROP_DATA: nothing stored", wait_until(lambda: not spool_files(env, "SINK_DROP_DATA")),
          repr(spool_files(env, "SINK_DROP_DATA")))
    s.close()

    s = connect(env, env["SINK_DROP_DOT_PORT"])
    mid, msg = message("sink-drop-dot", BODY_8BIT)
    try:
        s.sendmail(FROM, ["bob@interop.test"], msg)
        check("SINK_DROP_DOT: connection closed after the final dot without reply", False, "accepted")
    except smtplib.SMTPServerDisconnected:
        check("SINK_DROP_DOT: connection closed after the final dot without reply", True)
    compare("SINK_DROP_DOT: message stored although no reply", env, "SINK_DROP_DOT", mid, msg)
    s.close()

    s = connect(env, env["SINK_421_RCPT_PORT"])
    s.mail(FROM)
    code, text = s.rcpt("bob@interop.test")
    check("SINK_421_RCPT: RCPT answered 421", code == 421, f"{code} {text!r}")
    try:
        s.noop()
        check("SINK_421_RCPT: connection closed after 421", False, "still open")
    except smtplib.SMTPServerDisconnected:
        check("SINK_421_RCPT: connection closed after 421", True)
    s.close()

    s = connect(env, env["SINK_ABORT_DATA_PORT"])
    s.mail(FROM)
    s.rcpt("bob@interop.test")
    code, _ = s.docmd("DATA")
    code2, text2 = s.getreply()
    check("SINK_ABORT_DATA: 354 then at once 550 (body unread)", code == 354 and code2 == 550,
          f"{code}, {code2} {text2!r}")
    s.close()

    s = smtplib.SMTP(env["INTEROP_HOST"], int(env["SINK_NOESMTP_PORT"]), local_hostname=CLIENT, timeout=30)
    code, _ = s.ehlo()
    code2, _ = s.helo()
    check("SINK_NOESMTP: EHLO refused (500), HELO accepted", code == 500 and code2 == 250, f"{code} {code2}")
    mid, msg = message("sink-noesmtp", BODY_DOTS)
    s.sendmail(FROM, ["bob@interop.test"], msg)
    ok, hits = compare("SINK_NOESMTP: message stored after HELO", env, "SINK_NOESMTP", mid, msg)
    if hits:
        check("SINK_NOESMTP: protocol SMTP", hits[0][1]["client_proto"] == "SMTP", repr(hits[0][1]))
    quit_(s)

    s = connect(env, env["SINK_NOEXT_PORT"])
    check("SINK_NOEXT: EHLO without any extension", s.does_esmtp and not s.esmtp_features,
          repr(s.esmtp_features))
    mid, msg = message("sink-noext", BODY_DOTS)
    s.sendmail(FROM, ["bob@interop.test"], msg)
    compare("SINK_NOEXT: message stored", env, "SINK_NOEXT", mid, msg)
    quit_(s)


# ------------------------------------------------------------------------------ Postfix
def test_postfix(env, big):
    s = smtplib.SMTP(env["INTEROP_HOST"], int(env["POSTFIX_PORT"]), local_hostname=CLIENT, timeout=60)
    s.ehlo()
    f = s.esmtp_features
    want = ("pipelining", "8bitmime", "smtputf8", "dsn", "chunking", "starttls", "enhancedstatuscodes")
    check("postfix: EHLO advertises " + ", ".join(w.upper() for w in want),
          all(w in f for w in want), repr(f))
    check("postfix: SIZE >= 20 MB", int(f.get("size", "0") or 0) >= 20 * 1000 * 1000, repr(f.get("size")))
    s.starttls(context=tls_ctx(env))
    s.ehlo()
    check("postfix: STARTTLS with the test CA (verified), no AUTH", "auth" not in s.esmtp_features)
    for tag, body in (("dots", BODY_DOTS), ("8bit", BODY_8BIT), ("998", BODY_998), ("10mib", big)):
        mid, msg = message(f"postfix-{tag}", body)
        t = time.monotonic()
        s.sendmail(FROM, ["bob@interop.test", "carol@example.org"], msg, mail_options=["BODY=8BITMIME"])
        sent_t = time.monotonic() - t
        hits, why = fetch_one(env, "postfix", mid, expect=2)
        total_t = time.monotonic() - t
        ok = bool(hits) and all(h[2] == msg for h in hits)
        check(f"postfix: {tag} ({len(msg)} bytes; 250 after {sent_t:.2f}s, both copies in the maildir "
              f"after {total_t:.2f}s) delivered exactly to 2 mailboxes", ok,
              why or (diff(msg, hits[0][2]) if hits else ""))
        if hits:
            ms = [h[1] for h in hits]
            check(f"postfix: {tag} Return-Path, Delivered-To, ESMTPS",
                  all(m["return_path"] == f"<{FROM}>" and m["protocol"] == "ESMTPS" for m in ms)
                  and sorted(m["delivered_to"] for m in ms) == ["bob@interop.test", "carol@example.org"],
                  repr(ms))
    prefix = env["INTEROP_REJECT_PREFIX"]
    mid, msg = message("postfix-reject", BODY_DOTS)
    refused = s.sendmail(FROM, [f"{prefix}.me@interop.test", "dave@interop.test"], msg)
    code = refused.get(f"{prefix}.me@interop.test", (None,))[0]
    check("postfix: reject* recipient refused with 550 5.1.1, other accepted",
          code == 550 and b"5.1.1" in refused[f"{prefix}.me@interop.test"][1], repr(refused))
    compare("postfix: message to the accepted recipient delivered", env, "postfix", mid, msg,
            rcpt="dave@interop.test")
    quit_(s)

    s = connect(env, env["POSTFIX_PORT"])
    mid, msg = message("postfix-plain", BODY_DOTS)
    s.sendmail(FROM, ["erin@interop.test"], msg)
    ok, hits = compare("postfix: plaintext (no STARTTLS) delivered exactly", env, "postfix", mid, msg)
    if hits:
        check("postfix: plaintext recorded as ESMTP", hits[0][1]["protocol"] == "ESMTP", repr(hits[0][1]))
    quit_(s)

    s = connect(env, env["POSTFIX_TLS_REQUIRED_PORT"])
    code, text = s.mail(FROM)
    check("postfix TLS-required port: MAIL before STARTTLS refused (530 5.7.0)", code == 530, f"{code} {text!r}")
    s.rset()
    s.starttls(context=tls_ctx(env))
    s.ehlo()
    mid, msg = message("postfix-tlsreq", BODY_8BIT)
    s.sendmail(FROM, ["frank@interop.test"], msg, mail_options=["BODY=8BITMIME"])
    compare("postfix TLS-required port: delivered exactly after STARTTLS", env, "postfix", mid, msg)
    quit_(s)

    s = connect(env, env["POSTFIX_SMTPS_PORT"], "implicit")
    mid, msg = message("postfix-smtps", BODY_998)
    s.sendmail(FROM, ["grace@interop.test"], msg)
    ok, hits = compare("postfix implicit TLS port: delivered exactly", env, "postfix", mid, msg)
    if hits:
        check("postfix implicit TLS: recorded as ESMTPS", hits[0][1]["protocol"] == "ESMTPS", repr(hits[0][1]))
    quit_(s)

    s = connect(env, env["POSTFIX_PORT"], "starttls")
    utf_from, utf_to = "j\u00fcrgen@b\u00fccher.example", "\u00e9l\u00e8ve@\u00e9cole.example"
    mid, msg = message("postfix-smtputf8", "Ol\u00e1 \u4e16\u754c\r\n".encode(),
                       extra_headers=f"X-UTF8: {utf_to}\r\n".encode())
    s.sendmail(utf_from, [utf_to], msg, mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    ok, hits = compare("postfix: SMTPUTF8 envelope + UTF-8 header delivered exactly", env, "postfix", mid, msg)
    if hits:
        m = hits[0][1]
        check("postfix: SMTPUTF8 envelope kept (Return-Path, Delivered-To, UTF8SMTPS)",
              m["return_path"] == f"<{utf_from}>" and m["delivered_to"] == utf_to
              and m["protocol"].upper().startswith("UTF8SMTP"), repr(m))
    quit_(s)


def main():
    arg = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("INTEROP_ENV")
    if not arg:
        print(__doc__, file=sys.stderr)
        return 2
    if os.path.isdir(arg):
        arg = os.path.join(arg, "servers.env")
    env = delivered.read_env(arg)
    t0 = time.monotonic()
    big = body_10mib()
    for name, fn in (("aiosmtpd", test_aiosmtpd), ("smtp-sink", test_sinks), ("postfix", test_postfix)):
        t = time.monotonic()
        try:
            fn(env, big)
        except (smtplib.SMTPException, OSError, ssl.SSLError, KeyError) as e:
            check(f"{name}: unexpected {type(e).__name__}", False, str(e))
        print(f"-- {name}: {time.monotonic() - t:.2f}s", flush=True)
    failed = [n for n, ok in results if not ok]
    print(f"selftest: {len(results) - len(failed)} passed, {len(failed)} failed "
          f"({time.monotonic() - t0:.1f}s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
