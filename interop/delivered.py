#!/usr/bin/env python3
"""Fetch a message as a server of the interop suite stored it, as the bytes the client sent.

  delivered.py [--env FILE] SERVER (--message-id ID | --queue-id QID) [--rcpt ADDR]
               [--expect N] [--timeout S] [-o FILE] [--meta FILE|-] [--raw]

SERVER is `postfix`, `aiosmtpd` (optionally `--variant starttls|implicit|...`), or the
env name of an smtp-sink instance (`SINK`, `SINK_DROP_DOT`, ...; case-insensitive).
FILE defaults to $INTEROP_ENV (DIR/servers.env written by interop/servers.sh start).
Stdlib only: run it with /usr/bin/python3 (INTEROP_PYTHON).

The message is found by its Message-ID header (angle brackets optional) or, for Postfix,
by the queue id from the "250 2.0.0 Ok: queued as QID" reply; --rcpt keeps only copies
for that recipient. Bounded polling (every 20 ms, --timeout seconds, default 10) until
--expect copies (default 1) are there; more copies than expected is an error. Postfix
delivers one copy per recipient: with --expect N the N copies must be identical once
the Postfix lines are removed. Output (stdout or -o FILE): the message bytes; --raw
prints the stored file as it is instead. --meta writes JSON facts (envelope, files,
TLS as reported by the server) to FILE or stderr (-).

Exit status: 0 found, 1 not found in time, 2 usage, 3 unexpected content (more copies
than expected, copies that differ, a stored file not in the expected format).

What is removed / normalised per server (see interop/README.md):
  postfix   the file in POSTFIX_SPOOL/new/ is: "Return-Path: <MAIL FROM>",
            "X-Original-To: RCPT", "Delivered-To: RCPT" (added by virtual(8) at
            delivery), then the "Received: from HELO (localhost [127.0.0.1])" header of
            smtpd (3 lines: "\tby POSTFIX_HOSTNAME (Postfix) with ESMTP[S] id QID[\n\tfor
            <RCPT>];" "\tDATE"), then the message with LF line ends. Those lines are
            removed and every LF becomes CRLF.
  sink      the dump is: X-Client-Addr, X-Client-Proto, [X-Helo-Args], X-Mail-Args,
            X-Rcpt-Args (one per RCPT), a 3-line "Received: ... (smtp-sink) ..." header,
            the message with every CR removed and dots unstuffed, then one empty line.
            Those are removed and every LF becomes CRLF.
  aiosmtpd  msg-N-VARIANT.eml is already the exact DATA content (dots unstuffed, CRLF
            as sent, no final ".\\r\\n"): returned as is.
"""

import argparse
import glob
import json
import os
import re
import sys
import time

POLL = 0.02


class Unexpected(Exception):
    """A stored file is not in the expected format, or copies disagree."""


# ----------------------------------------------------------------------------- helpers
def read_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#") or "=" not in line:
                continue
            k, _, v = line.partition("=")
            env[k] = v
    return env


def norm_id(value):
    v = value.strip()
    if v.startswith("<") and v.endswith(">"):
        v = v[1:-1]
    return v.strip()


def header_section(data):
    """Header lines (unfolded, as (name_lower, value) bytes pairs) of a message."""
    end = len(data)
    m = re.search(rb"\r?\n\r?\n", data)
    if m:
        end = m.start()
    headers = []
    for raw in re.split(rb"\r?\n", data[:end]):
        if raw[:1] in (b" ", b"\t") and headers:
            name, value = headers[-1]
            headers[-1] = (name, value + b" " + raw.strip())
        elif b":" in raw:
            name, _, value = raw.partition(b":")
            headers.append((name.strip().lower(), value.strip()))
    return headers


def message_id_of(data):
    for name, value in header_section(data):
        if name == b"message-id":
            return norm_id(value.decode("utf-8", "replace"))
    return None


def lf_to_crlf(data):
    return data.replace(b"\n", b"\r\n")


def take_header(lines, i, prefix):
    """If lines[i] starts with prefix: (value text, next index) taking folded lines too."""
    if i >= len(lines) or not lines[i].startswith(prefix):
        return None, i
    parts = [lines[i][len(prefix):]]
    i += 1
    while i < len(lines) and lines[i][:1] in (b"\t", b" "):
        parts.append(lines[i])
        i += 1
    return b"\n".join(parts).decode("utf-8", "replace"), i


# ----------------------------------------------------------------------------- postfix
def postfix_strip(data, hostname=None):
    """(meta, original bytes with CRLF) of a maildir file written by virtual(8)."""
    lines = data.split(b"\n")
    meta = {}
    i = 0
    for key, prefix in (("return_path", b"Return-Path: "), ("x_original_to", b"X-Original-To: "),
                        ("delivered_to", b"Delivered-To: ")):
        value, i = take_header(lines, i, prefix)
        if value is None:
            raise Unexpected(f"postfix: no {prefix.decode().strip()} line where expected")
        meta[key] = value
    received, i = take_header(lines, i, b"Received: ")
    if received is None or "(Postfix) with " not in received:
        raise Unexpected("postfix: no Received header of Postfix after Delivered-To")
    if hostname and f"by {hostname} (Postfix)" not in received:
        raise Unexpected(f"postfix: Received header is not from {hostname}: {received!r}")
    meta["received"] = "Received: " + received
    m = re.search(r"\(Postfix\) with (\S+) id (\w+)", received)
    if m:
        meta["protocol"] = m.group(1)
        meta["queue_id"] = m.group(2)
        meta["tls"] = "SMTPS" in m.group(1).upper()  # ESMTPS, ESMTPSA, UTF8SMTPS, ...
    m = re.match(r"from (\S+) ", received)
    if m:
        meta["helo"] = m.group(1)
    rest = b"\n".join(lines[i:])
    return meta, lf_to_crlf(rest)


def find_postfix(spool, hostname, message_id, queue_id, rcpt, expect, timeout):
    deadline = time.monotonic() + timeout
    cache = {}  # path -> (message_id, queue_id, rcpt)
    newdir = os.path.join(spool, "new")
    while True:
        hits = []
        for path in sorted(glob.glob(os.path.join(newdir, "*"))):
            if path not in cache:
                with open(path, "rb") as f:
                    head = f.read(65536)
                qid = None
                m = re.search(rb"\(Postfix\) with \S+ id (\w+)", head)
                if m:
                    qid = m.group(1).decode()
                m = re.search(rb"^Delivered-To: (.*)$", head, re.M)
                to = m.group(1).decode("utf-8", "replace").strip() if m else None
                # Message-ID of the original (the Postfix lines come first; skip them).
                try:
                    _, orig_head = postfix_strip(head, None)
                except Unexpected:
                    orig_head = head
                cache[path] = (message_id_of(orig_head), qid, to)
            mid, qid, to = cache[path]
            if message_id is not None and mid != norm_id(message_id):
                continue
            if queue_id is not None and qid != queue_id:
                continue
            if rcpt is not None and (to or "").lower() != rcpt.lower():
                continue
            hits.append(path)
        if len(hits) >= expect or time.monotonic() > deadline:
            break
        time.sleep(POLL)
    if len(hits) < expect:
        return None
    if len(hits) > expect:
        raise Unexpected(f"postfix: {len(hits)} copies found, expected {expect}: {hits}")
    copies = []
    for path in hits:
        with open(path, "rb") as f:
            raw = f.read()
        meta, body = postfix_strip(raw, hostname)
        meta["file"] = path
        copies.append((raw, meta, body))
    if any(c[2] != copies[0][2] for c in copies):
        raise Unexpected("postfix: the copies differ after removing the Postfix lines")
    return copies


# ----------------------------------------------------------------------------- smtp-sink
SINK_X = (b"X-Client-Addr: ", b"X-Client-Proto: ", b"X-Helo-Args: ", b"X-Mail-Args: ", b"X-Rcpt-Args: ")


def sink_parse(data):
    """(meta, original bytes with CRLF, complete?) of an smtp-sink -d dump file."""
    lines = data.split(b"\n")
    meta = {"rcpt_args": []}
    i = 0
    while i < len(lines) and lines[i].startswith(SINK_X):
        k, _, v = lines[i].partition(b": ")
        v = v.decode("utf-8", "replace")
        if k == b"X-Rcpt-Args":
            meta["rcpt_args"].append(v)
        else:
            meta[k.decode()[2:].lower().replace("-", "_")] = v
        i += 1
    received, i = take_header(lines, i, b"Received: ")
    if received is None:
        return meta, None, False  # still receiving RCPT/DATA (or not a dump)
    meta["received"] = "Received: " + received
    rest = b"\n".join(lines[i:])
    # smtp-sink ends the dump with the LF of the final "\r\n.\r\n" (one extra empty line).
    complete = rest.endswith(b"\n\n") or rest == b"\n"
    if not complete:
        return meta, None, False
    return meta, lf_to_crlf(rest[:-1]), True


def find_sink(spool, message_id, rcpt, expect, timeout):
    deadline = time.monotonic() + timeout
    while True:
        hits = []
        for path in sorted(glob.glob(os.path.join(spool, "*"))):
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except FileNotFoundError:  # an aborted transaction's dump is removed
                continue
            meta, body, complete = sink_parse(data)
            if not complete:
                continue
            if message_id is not None and message_id_of(body) != norm_id(message_id):
                continue
            if rcpt is not None and f"<{rcpt}>".lower() not in [r.split(" ")[0].lower() for r in meta["rcpt_args"]]:
                continue
            meta["file"] = path
            hits.append((data, meta, body))
        if len(hits) >= expect or time.monotonic() > deadline:
            break
        time.sleep(POLL)
    if len(hits) < expect:
        return None
    if len(hits) > expect:
        raise Unexpected(f"sink: {len(hits)} dumps found, expected {expect}: {[h[1]['file'] for h in hits]}")
    return hits


# ----------------------------------------------------------------------------- aiosmtpd
def find_aiosmtpd(spool, variant, message_id, rcpt, expect, timeout):
    deadline = time.monotonic() + timeout
    pattern = f"msg-*-{variant}.json" if variant else "msg-*.json"
    while True:
        hits = []
        for jpath in sorted(glob.glob(os.path.join(spool, pattern))):
            with open(jpath) as f:
                meta = json.load(f)
            epath = os.path.join(spool, meta["eml"])
            with open(epath, "rb") as f:
                body = f.read()
            if message_id is not None and message_id_of(body) != norm_id(message_id):
                continue
            if rcpt is not None and rcpt.lower() not in [r.lower() for r in meta["rcpt_tos"]]:
                continue
            meta["file"] = epath
            hits.append((body, meta, body))
        if len(hits) >= expect or time.monotonic() > deadline:
            break
        time.sleep(POLL)
    if len(hits) < expect:
        return None
    if len(hits) > expect:
        raise Unexpected(f"aiosmtpd: {len(hits)} messages found, expected {expect}")
    return hits


# ----------------------------------------------------------------------------- API
def fetch(env, server, message_id=None, queue_id=None, rcpt=None, expect=1, timeout=10.0, variant=None):
    """[(raw stored bytes, meta dict, original message bytes)] or None if not found in time."""
    s = server.lower()
    if s == "postfix":
        return find_postfix(env["POSTFIX_SPOOL"], env.get("POSTFIX_HOSTNAME"), message_id, queue_id,
                            rcpt, expect, timeout)
    if queue_id is not None:
        raise ValueError("--queue-id is for postfix only")
    if s == "aiosmtpd":
        return find_aiosmtpd(env["AIOSMTPD_SPOOL"], variant, message_id, rcpt, expect, timeout)
    key = server.upper().replace("-", "_") + "_SPOOL"
    if key not in env:
        raise ValueError(f"unknown server {server!r} (no {key} in the env file)")
    return find_sink(env[key], message_id, rcpt, expect, timeout)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("server")
    ap.add_argument("--env", default=os.environ.get("INTEROP_ENV"))
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--message-id")
    g.add_argument("--queue-id")
    ap.add_argument("--rcpt")
    ap.add_argument("--variant")
    ap.add_argument("--expect", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("-o", "--output")
    ap.add_argument("--meta")
    ap.add_argument("--raw", action="store_true")
    a = ap.parse_args()
    if not a.env:
        ap.error("no --env and no INTEROP_ENV")
    if a.expect < 1:
        ap.error("--expect must be >= 1")
    env = read_env(a.env)
    try:
        hits = fetch(env, a.server, a.message_id, a.queue_id, a.rcpt, a.expect, a.timeout, a.variant)
    except ValueError as e:
        ap.error(str(e))
    except Unexpected as e:
        print(f"delivered.py: {e}", file=sys.stderr)
        return 3
    if hits is None:
        what = f"Message-ID {a.message_id}" if a.message_id else f"queue id {a.queue_id}"
        print(f"delivered.py: {a.server}: {what} not found within {a.timeout}s "
              f"(expected {a.expect} cop{'y' if a.expect == 1 else 'ies'})", file=sys.stderr)
        return 1
    raw, _, body = hits[0]
    out = raw if a.raw else body
    if a.output:
        with open(a.output, "wb") as f:
            f.write(out)
    else:
        sys.stdout.buffer.write(out)
        sys.stdout.buffer.flush()
    if a.meta:
        text = json.dumps([h[1] for h in hits], indent=1)
        if a.meta == "-":
            print(text, file=sys.stderr)
        else:
            with open(a.meta, "w") as f:
                f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
