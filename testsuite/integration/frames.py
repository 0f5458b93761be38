#!/usr/bin/env python3
"""frames.py PORT CASE [CRED] - send one hand-made frame to mctld and say
what came back: "reply flags=F type=T body=N", "closed" (EOF or reset) or
"silent" (nothing within 3 s, connection left open by the daemon).

Used by t0050-frames.sh; the header layout is src/common/frame.h's:
magic u32 'MRDN', version u16, type u16, flags u32, req_id u32,
cred_len u32, body_len u32, reserved u32, all big-endian, 28 bytes."""
import socket
import struct
import sys
import time

MAGIC = 0x4D52444E
VERSION = 2
PING, SUBMIT, JOB_INFO = 22, 10, 11


def hdr(magic=MAGIC, version=VERSION, mtype=PING, flags=0, req=7,
        cred_len=0, body_len=0, reserved=0):
    return struct.pack(">IHHIIIII", magic, version, mtype, flags, req,
                       cred_len, body_len, reserved)


def frame(cred=b"", body=b"", **kw):
    return hdr(cred_len=len(cred), body_len=len(body), **kw) + cred + body


def exchange(port, data, shut=False, wait=3.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(data)
        if shut:
            s.shutdown(socket.SHUT_WR)
        s.settimeout(wait)
        buf = b""
        try:
            while len(buf) < 28:
                got = s.recv(65536)
                if not got:
                    break
                buf += got
        except socket.timeout:
            return "silent" if not buf else "partial %d bytes" % len(buf)
        except ConnectionResetError:
            return "closed (reset)"
        if len(buf) < 28:
            return "closed" if not buf else "closed after %d bytes" % len(buf)
        magic, ver, mtype, flags, req, clen, blen, _ = struct.unpack(
            ">IHHIIIII", buf[:28])
        body = buf[28 + clen:]
        try:
            while len(body) < blen:
                got = s.recv(65536)
                if not got:
                    break
                body += got
        except (socket.timeout, ConnectionResetError):
            pass
        text = body[:blen].decode("utf-8", "replace")
        printable = "".join(c if c.isprintable() else " " for c in text)
        # and then: does the daemon close the connection?
        after = "open"
        try:
            s.settimeout(1.0)
            if not s.recv(1):
                after = "closed"
        except socket.timeout:
            pass
        except ConnectionResetError:
            after = "closed"
        return "reply flags=%d type=%d req=%d body=%d then=%s text=%s" % (
            flags, mtype, req, blen, after, printable.strip())
    finally:
        s.close()


def main():
    port = int(sys.argv[1])
    case = sys.argv[2]
    cred = sys.argv[3].encode() if len(sys.argv) > 3 else b""
    if case == "garbage":
        r = exchange(port, b"GET / HTTP/1.0\r\nHost: meridian\r\n\r\n" * 4)
    elif case == "truncated":
        r = exchange(port, hdr()[:10], shut=True)
    elif case == "huge-body":
        r = exchange(port, hdr(body_len=0xFFFFFFF0) + b"x" * 100)
    elif case == "huge-cred":
        r = exchange(port, hdr(cred_len=0x00100000) + b"x" * 100)
    elif case == "bad-version":
        r = exchange(port, frame(version=99))
    elif case == "unknown-type":
        r = exchange(port, frame(mtype=999))
    elif case == "no-cred":
        r = exchange(port, frame(mtype=PING))
    elif case == "bad-cred":
        r = exchange(port, frame(cred=b"MUNGE:this-is-not-a-credential:",
                                 mtype=JOB_INFO))
    elif case == "bad-body":
        # a valid credential, then a body that is not a SubmitJobRequest
        r = exchange(port, frame(cred=cred, body=b"\xff" * 64, mtype=SUBMIT))
    elif case == "ping":
        r = exchange(port, frame(cred=cred, mtype=PING))
    elif case == "ping-old-version":
        r = exchange(port, frame(cred=cred, mtype=PING, version=VERSION - 1))
    elif case == "reply-flag":
        # a "reply" sent to the controller as if it were a request
        r = exchange(port, frame(cred=cred, mtype=PING, flags=1))
    elif case == "hold-open":
        # many idle and half-sent connections; then the caller's command
        # must still be served.  Keeps them open for argv[3] seconds.
        socks = []
        for i in range(200):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            if i % 2:
                s.sendall(hdr()[:13])
            socks.append(s)
        print("holding %d connections" % len(socks), flush=True)
        time.sleep(float(sys.argv[3]) if len(sys.argv) > 3 else 5)
        for s in socks:
            s.close()
        return
    else:
        raise SystemExit("unknown case " + case)
    print(r)


if __name__ == "__main__":
    main()
