#!/usr/bin/env python3
"""kvs_frames.py PORT fence-stall N HOLD_S wrong|none - N connections to an
mstepd's KVS port (node 0 of a step), each announcing a 16 MiB KVS_FENCE
whose frame credential is a wrong 32-byte key ("wrong") or missing
("none", as an mstepd older than the credential sends its key: in the
body), then sending all of its body but one byte, as much as the daemon
takes, and stalling until HOLD_S seconds have passed.

Prints "stalling: ..." once everything is sent or blocked, and at the end
"done: sent M MiB on N connections, C closed by the daemon, the first
after F s, the last after L s".  Used by t0104-kvs-hostile.sh; the frames
and the stalling are frames.py's."""
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import frames  # noqa: E402  (beside this file)

KVS_FENCE = 60


def main():
    if len(sys.argv) != 6 or sys.argv[2] != "fence-stall" or \
            sys.argv[5] not in ("wrong", "none"):
        raise SystemExit("usage: kvs_frames.py PORT fence-stall N HOLD_S "
                         "wrong|none")
    n = int(sys.argv[3])
    creds = [os.urandom(32) for _ in range(n)] if sys.argv[5] == "wrong" \
        else []
    frames.stall(int(sys.argv[1]), n, float(sys.argv[4]), creds,
                 mtype=KVS_FENCE)


if __name__ == "__main__":
    main()
