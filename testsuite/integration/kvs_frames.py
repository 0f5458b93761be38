#!/usr/bin/env python3
"""kvs_frames.py PORT fence-stall N HOLD_S wrong|none - N connections to an
mstepd's KVS port (node 0 of a step), each announcing a 16 MiB KVS_FENCE
whose frame credential is a wrong 32-byte key ("wrong") or missing
("none", as an mstepd older than the credential sends its key: in the
body), then sending all of its body but one byte, as much as the daemon
takes, and stalling until HOLD_S seconds have passed.

Prints "stalling: ..." once everything is sent or blocked, and at the end
"done: sent M MiB on N connections, C closed by the daemon, the first
after F s, the last after L s".  Used by t0104-kvs-hostile.sh (frames.py
is mctld's and mrun's; this is the KVS port's).  The header layout is
src/common/frame.h's: magic u32 'MRDN', version u16, type u16, flags u32,
req_id u32, cred_len u32, body_len u32, reserved u32, big-endian."""
import os
import select
import socket
import struct
import sys
import time

MAGIC = 0x4D52444E
VERSION = 2
KVS_FENCE = 60
BODY_LEN = 16 << 20


def hdr(cred_len, body_len):
    return struct.pack(">IHHIIIII", MAGIC, VERSION, KVS_FENCE, 0, 0,
                       cred_len, body_len, 0)


def fence_stall(port, n, hold, kind):
    start = time.time()
    socks, todo, closed_at = [], [], []
    for _ in range(n):
        cred = os.urandom(32) if kind == "wrong" else b""
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError:
            closed_at.append(time.time() - start)  # refused at once
            continue
        s.setblocking(False)
        socks.append(s)
        todo.append([hdr(len(cred), BODY_LEN) + cred, BODY_LEN - 1])
    chunk = b"\x01" * 65536
    end = start + hold
    sent = 0
    announced = False
    while time.time() < end:
        live = [s for s, t in zip(socks, todo) if t is not None]
        if not live:
            break
        busy = [s for s in live if todo[socks.index(s)][0] or
                todo[socks.index(s)][1]]
        # writable: more to send; readable: EOF from the daemon
        r, w, _ = select.select(live, busy, [], 0.2)
        if not w and not announced:
            print("stalling: sent %d MiB on %d connections, %d closed by "
                  "the daemon" % (sent >> 20, len(socks), len(closed_at)),
                  flush=True)
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
        print("stalling: sent %d MiB on %d connections, %d closed by the "
              "daemon" % (sent >> 20, len(socks), len(closed_at)),
              flush=True)
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
    if len(sys.argv) != 6 or sys.argv[2] != "fence-stall" or \
            sys.argv[5] not in ("wrong", "none"):
        raise SystemExit("usage: kvs_frames.py PORT fence-stall N HOLD_S "
                         "wrong|none")
    fence_stall(int(sys.argv[1]), int(sys.argv[3]), float(sys.argv[4]),
                sys.argv[5])


if __name__ == "__main__":
    main()
