#!/usr/bin/env python3
"""Probe SMTP servers' greeting and EHLO reply (stdlib only; /usr/bin/python3).

  ehlo.py [--ca CA] [--host 127.0.0.1] [--keywords] [--keywords-file F] NAME=MODE:PORT ...

MODE: plain (EHLO only), starttls (EHLO, STARTTLS verified with CA, EHLO again) or
implicit (TLS from the first byte, verified with CA). For each target prints:

  # NAME 127.0.0.1:PORT (MODE)
  S: 220 ...
  C: EHLO interop-probe.localhost
  S: 250-...

With --keywords prints one line per target instead: NAME=KW,KW,... (the keywords of the
first EHLO reply; empty if EHLO was refused); --keywords-file F writes those lines to F
in addition to the text on stdout. When EHLO is refused (a server without
ESMTP), HELO is tried and reported. Exits non-zero if a server cannot be reached or TLS
fails. Every probe is a complete session ending with QUIT; no mail transaction.
"""

import argparse
import smtplib
import ssl
import sys

CLIENT_NAME = "interop-probe.localhost"


def reply_lines(code, msg):
    text = msg.decode("utf-8", "backslashreplace").split("\n") if msg else [""]
    return [f"S: {code}{' ' if i == len(text) - 1 else '-'}{t}" for i, t in enumerate(text)]


def keywords(msg):
    out = []
    for t in msg.decode("utf-8", "backslashreplace").split("\n")[1:]:
        k = t.strip().split(" ")[0].upper()
        if k:
            out.append(k)
    return out


def probe(mode, host, port, ca):
    ctx = ssl.create_default_context(cafile=ca) if ca else ssl.create_default_context()
    if mode == "implicit":
        s = smtplib.SMTP_SSL(timeout=10, context=ctx, local_hostname=CLIENT_NAME)
    else:
        s = smtplib.SMTP(timeout=10, local_hostname=CLIENT_NAME)
    s._host = host  # smtplib takes the TLS server name from here (set by the constructor only)
    out, first = [], []
    try:
        code, msg = s.connect(host, port)
        out += reply_lines(code, msg)
        out.append(f"C: EHLO {CLIENT_NAME}")
        code, msg = s.ehlo()
        out += reply_lines(code, msg)
        if code == 250:
            first = keywords(msg)
            if mode == "starttls":
                out.append("C: STARTTLS")
                code, msg = s.starttls(context=ctx)
                out += reply_lines(code, msg)
                out.append(f"C: EHLO {CLIENT_NAME}")
                code, msg = s.ehlo()
                out += reply_lines(code, msg)
        else:
            out.append(f"C: HELO {CLIENT_NAME}")
            code, msg = s.helo()
            out += reply_lines(code, msg)
        try:
            out.append("C: QUIT")
            code, msg = s.docmd("QUIT")
            out += reply_lines(code, msg)
        except smtplib.SMTPException:
            pass
    finally:
        s.close()
    return out, first


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("targets", nargs="+", metavar="NAME=MODE:PORT")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--ca")
    ap.add_argument("--keywords", action="store_true")
    ap.add_argument("--keywords-file")
    a = ap.parse_args()
    kw_lines = []
    for t in a.targets:
        name, _, rest = t.rpartition("=")
        mode, _, port = rest.partition(":")
        if mode not in ("plain", "starttls", "implicit") or not port.isdigit():
            ap.error(f"bad target {t!r}")
        out, first = probe(mode, a.host, int(port), a.ca)
        kw_lines.append(f"{name or port}={','.join(first)}")
        if a.keywords:
            print(f"{name or port}={','.join(first)}")
        else:
            print(f"# {name or 'server'} {a.host}:{port} ({mode})")
            print("\n".join(out))
            print()
    if a.keywords_file:
        with open(a.keywords_file, "w") as f:
            f.write("\n".join(kw_lines) + "\n")


if __name__ == "__main__":
    try:
        main()
    except (OSError, smtplib.SMTPException, ssl.SSLError) as e:
        print(f"ehlo.py: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
