#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# ackproxy: a loopback TCP proxy between clients and a master that loses
# submit acknowledgements on purpose, for the scenario of the master's
# exactly-once submit (t0208). It reads the frames of both directions
# (docs/protocol.md section 1: a 4-byte big-endian length, then JSON), so
# the master must run with MTSLURM_BENCH_PLAINTEXT=1 on loopback (section
# 2.2); a sealed connection is passed through untouched and logged "sealed".
#
#   ackproxy.py --master HOST:PORT --port-file FILE --log FILE
#               [--drop-every K] [--drops N] [--dup-every K] [--max-seconds S]
#
# --drop-every K: of each client id's `submitted` replies, the 1st, the
#   K+1st, ... (at most --drops N per client id) is not forwarded; instead
#   both sides of that connection are closed, so the client reconnects and
#   sends the frame again with the same client id and req. A reply to a
#   frame whose reply was dropped is never dropped, so every client gets
#   on. Log lines: "drop CID REQ FIRST N", then for the re-sent frame's
#   reply "again CID REQ FIRST N same" (or "... differs FIRST0 N0": the
#   master stored it twice).
# --dup-every K: each client id's 1st, K+1st, ... submit frame reaches the
#   master twice in one write on the same connection: the second copy is
#   read in the turn that stored the first, before its commit (let alone
#   its sync). The second reply is swallowed and compared: "dup CID REQ
#   FIRST N same|differs FIRST0 N0".
# Binds 127.0.0.1 on an ephemeral port, written to --port-file once
# listening; exits after --max-seconds (default 600) at the latest.
import argparse, json, os, selectors, socket, struct, time

ap = argparse.ArgumentParser()
ap.add_argument("--master", required=True)
ap.add_argument("--port-file", required=True)
ap.add_argument("--log", required=True)
ap.add_argument("--drop-every", type=int, default=0)
ap.add_argument("--drops", type=int, default=1 << 30)
ap.add_argument("--dup-every", type=int, default=0)
ap.add_argument("--max-seconds", type=float, default=600)
args = ap.parse_args()
mhost, mport = args.master.rsplit(":", 1)
logf = open(args.log, "a", buffering=1)
sel = selectors.DefaultSelector()

replies = {}  # cid -> `submitted` replies seen (counted once per req)
drops = {}    # cid -> replies dropped
submits = {}  # cid -> submit frames seen
dropped = {}  # (cid, req) -> (first, n) of the reply that was dropped


def log(*words):
    logf.write(" ".join(str(w) for w in words) + "\n")


class Side:
    """One socket of a pair: bytes read are parsed into frames (unless
    the connection is sealed), bytes to write wait in out."""

    def __init__(self, pair, sock, name):
        self.pair, self.sock, self.name = pair, sock, name
        self.inbuf, self.out = b"", b""
        sock.setblocking(False)
        sel.register(sock, selectors.EVENT_READ, self)

    def want_write(self):
        ev = selectors.EVENT_READ | (selectors.EVENT_WRITE if self.out else 0)
        sel.modify(self.sock, ev, self)

    def send(self, data):
        self.out += data
        self.flush()

    def flush(self):
        if self.out:
            try:
                n = self.sock.send(self.out)
                self.out = self.out[n:]
            except BlockingIOError:
                pass
            except OSError:
                self.pair.close("write failed")
                return
        if not self.pair.closed:
            self.want_write()


class Pair:
    def __init__(self, csock):
        self.closed = False
        self.cid = None
        self.sealed = False
        self.dups = {}  # req -> the first reply of a doubled frame, or None
        self.c = Side(self, csock, "client")
        msock = socket.create_connection((mhost, int(mport)))
        self.m = Side(self, msock, "master")

    def close(self, why):
        if self.closed:
            return
        self.closed = True
        for s in (self.c, self.m):
            try:
                sel.unregister(s.sock)
            except (KeyError, ValueError):
                pass
            s.sock.close()

    def on_read(self, side):
        try:
            data = side.sock.recv(1 << 16)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            # flush what the other side still has to get, then close both
            other = self.m if side is self.c else self.c
            if other.out:
                other.sock.settimeout(2)
                try:
                    other.sock.sendall(other.out)
                except OSError:
                    pass
            self.close("eof")
            return
        to = self.m if side is self.c else self.c
        if self.sealed:
            to.send(data)
            return
        side.inbuf += data
        while not self.closed and not self.sealed and len(side.inbuf) >= 4:
            (n,) = struct.unpack(">I", side.inbuf[:4])
            if len(side.inbuf) < 4 + n:
                break
            frame, side.inbuf = side.inbuf[: 4 + n], side.inbuf[4 + n:]
            try:
                msg = json.loads(frame[4:])
            except ValueError:
                msg = {}
            if side is self.c:
                self.from_client(frame, msg)
            else:
                self.from_master(frame, msg)
        if self.sealed and side.inbuf:
            to.send(side.inbuf)
            side.inbuf = b""

    def from_client(self, frame, msg):
        t = msg.get("t")
        if t == "hello":
            self.cid = msg.get("client")
        elif t == "submit" and self.cid and args.dup_every and "req" in msg:
            k = submits.get(self.cid, 0)
            submits[self.cid] = k + 1
            if k % args.dup_every == 0:
                self.dups[msg["req"]] = None
                self.m.send(frame + frame)
                return
        self.m.send(frame)

    def from_master(self, frame, msg):
        t = msg.get("t")
        if t == "challenge" and msg.get("rec") != "none":
            log("sealed", msg.get("rec"))
            self.sealed = True
        if t != "submitted" or not self.cid:
            self.c.send(frame)
            return
        req, got = msg.get("req"), (msg.get("first"), msg.get("n"))
        key = (self.cid, req)
        if req in self.dups:
            first = self.dups[req]
            if first is None:
                self.dups[req] = got
            else:
                del self.dups[req]
                log("dup", self.cid, req, *got, "same" if got == first else "differs %s %s" % first)
                return  # the client asked once: it gets one reply
        if key in dropped:
            was = dropped.pop(key)
            log("again", self.cid, req, *got, "same" if got == was else "differs %s %s" % was)
            self.c.send(frame)
            return
        k = replies.get(self.cid, 0)
        replies[self.cid] = k + 1
        if args.drop_every and k % args.drop_every == 0 and drops.get(self.cid, 0) < args.drops:
            drops[self.cid] = drops.get(self.cid, 0) + 1
            dropped[key] = got
            log("drop", self.cid, req, *got)
            self.close("dropped")
            return
        self.c.send(frame)


lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
lsock.bind(("127.0.0.1", 0))
lsock.listen(64)
lsock.setblocking(False)
sel.register(lsock, selectors.EVENT_READ, None)
with open(args.port_file + ".tmp", "w") as f:
    f.write("%d\n" % lsock.getsockname()[1])
os.rename(args.port_file + ".tmp", args.port_file)

end = time.monotonic() + args.max_seconds
while time.monotonic() < end:
    for key, ev in sel.select(timeout=1.0):
        if key.data is None:
            try:
                csock, _ = lsock.accept()
            except BlockingIOError:
                continue
            try:
                Pair(csock)
            except OSError as e:
                log("cannot reach the master:", e)
                csock.close()
            continue
        side = key.data
        if side.pair.closed:
            continue
        if ev & selectors.EVENT_WRITE:
            side.flush()
        if ev & selectors.EVENT_READ and not side.pair.closed:
            side.pair.on_read(side)
log("exit: --max-seconds reached")
