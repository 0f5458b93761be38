#!/usr/bin/env python3
"""frames.py PORT CASE [CRED] - send one hand-made frame to mctld and say
what came back: "reply flags=F type=T body=N", "closed" (EOF or reset) or
"silent" (nothing within 3 s, connection left open by the daemon).
frames.py PORT stall N HOLD_S [CREDFILE] - N stalled 16 MiB frames.

Used by t0050-frames.sh and t0100-hostile.sh; the header layout is src/common/frame.h's:
magic u32 'MRDN', version u16, type u16, flags u32, req_id u32,
cred_len u32, body_len u32, reserved u32, all big-endian, 28 bytes."""
import socket
import struct
import sys
import time

MAGIC = 0x4D52444E
VERSION = 2
PING, SUBMIT, JOB_INFO, NODE_INFO, STEP_HELLO = 22, 10, 11, 20, 50


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


def pb_bytes(field, data):
    """A length-delimited protobuf field (string, bytes, sub-message)."""
    key, n, out = field << 3 | 2, len(data), b""
    out += bytes([key])
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            out += bytes([b])
            break
    return out + data


def stall(port, n, hold, creds, mtype=SUBMIT):
    """n connections that each announce a 16 MiB frame of type mtype
    (SUBMIT_JOB), send all of it but one byte (as much as the daemon
    takes) and stall until hold seconds have passed.  creds: one
    credential per connection, or none.  Prints "stalling: ..." once
    everything is sent or blocked, and at the end "done: sent M MiB on N
    connections, C closed by the daemon, the first after F s, the last
    after L s"."""
    import select
    body_len = 16 << 20
    start = time.time()
    socks, todo, closed_at = [], [], []
    for i in range(n):
        cred = creds[i] if i < len(creds) else b""
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError:
            closed_at.append(time.time() - start)  # refused at once
            continue
        s.setblocking(False)
        socks.append(s)
        todo.append([hdr(mtype=mtype, cred_len=len(cred),
                         body_len=body_len) + cred,
                     body_len - 1])
    chunk = b"\x01" * 65536
    end = start + hold
    sent = 0
    announced = False

    def say_stalling():
        print("stalling: sent %d MiB on %d connections, %d closed by the "
              "daemon" % (sent >> 20, len(socks), len(closed_at)),
              flush=True)

    while time.time() < end:
        live = [s for s, t in zip(socks, todo) if t is not None]
        if not live:
            break
        busy = [s for s in live if todo[socks.index(s)][0] or
                todo[socks.index(s)][1]]
        # writable: more to send; readable: EOF from the daemon
        r, w, _ = select.select(live, busy, [], 0.2)
        if not w and not announced:
            say_stalling()
            announced = True
        for s in set(r) | set(w):
            i = socks.index(s)
            t = todo[i]
            if t is None:
                continue
            try:
                if s in r and not s.recv(65536):
                    raise ConnectionResetError
                if s in w:
                    if t[0]:
                        k = s.send(t[0])
                        t[0] = t[0][k:]
                    else:
                        k = s.send(chunk[:min(len(chunk), t[1])])
                        t[1] -= k
                    sent += k
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                todo[i] = None
                closed_at.append(time.time() - start)
    if not announced:
        say_stalling()
    while time.time() < end:
        time.sleep(0.2)
    for s in socks:
        s.close()
    first = "%.1f" % min(closed_at) if closed_at else "-"
    last = "%.1f" % max(closed_at) if closed_at else "-"
    print("done: sent %d MiB on %d connections, %d closed by the daemon, "
          "the first after %s s, the last after %s s"
          % (sent >> 20, n, len(closed_at), first, last), flush=True)


def main():
    port = int(sys.argv[1])
    case = sys.argv[2]
    if case == "stall":
        # stall PORT stall N HOLD_S [CREDFILE]
        creds = []
        if len(sys.argv) > 5:
            with open(sys.argv[5], "rb") as f:
                creds = [line.strip() for line in f if line.strip()]
        stall(port, int(sys.argv[3]), float(sys.argv[4]), creds)
        return
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
    elif case == "hello-badkey":
        # mrun's port: a STEP_HELLO whose credential is not the step's key
        r = exchange(port, frame(cred=cred, mtype=STEP_HELLO))
    elif case == "nodeinfo-groups":
        # 'A' and a million "[1]" groups: 3 MB of one hostlist
        names = b"A" + b"[1]" * 1000000
        r = exchange(port, frame(cred=cred, mtype=NODE_INFO,
                                 body=pb_bytes(1, names)), wait=10)
    elif case == "nodeinfo-longname":
        # a 50 KB name times [1-65536]
        names = b"x" * 50000 + b"[1-65536]"
        r = exchange(port, frame(cred=cred, mtype=NODE_INFO,
                                 body=pb_bytes(1, names)), wait=10)
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
