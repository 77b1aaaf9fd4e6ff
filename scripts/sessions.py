#!/usr/bin/python3
# scripts/sessions.py - long-lived TCP connections for the sessions lab (tests/sessions.rs, demo.sh --sessions).
#
#   sessions.py server PORT
#       echo server: every line received on a connection is sent back on it.
#   sessions.py client HOST PORT N STATUSFILE
#       opens N connections to HOST:PORT one after the other, then on each, forever: sends a line,
#       waits for its echo, 0.2 s later the next one. STATUSFILE is rewritten (atomically) every
#       0.1 s with one line per connection: "INDEX LAST_ECHO_UNIX_MS ECHOES" (0 before the first echo),
#       after a first line "connected N".
# Plain python3 (standard library only); stops on SIGTERM or SIGKILL.
import os
import selectors
import socket
import sys
import time


def now_ms():
    return int(time.time() * 1000)


def server(port):
    sel = selectors.DefaultSelector()
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("0.0.0.0", port))
    lsock.listen(128)
    lsock.setblocking(False)
    sel.register(lsock, selectors.EVENT_READ, None)
    print(f"listening on port {port}", flush=True)
    while True:
        for key, _ in sel.select():
            if key.data is None:
                conn, _ = lsock.accept()
                conn.setblocking(False)
                sel.register(conn, selectors.EVENT_READ, True)
                continue
            conn = key.fileobj
            try:
                data = conn.recv(4096)
            except (ConnectionError, OSError):
                data = b""
            if not data:
                sel.unregister(conn)
                conn.close()
                continue
            conn.setblocking(True)
            conn.sendall(data)
            conn.setblocking(False)


def client(host, port, n, status):
    socks = []
    for _ in range(n):
        s = socket.create_connection((host, port), timeout=10)
        s.setblocking(False)
        socks.append(s)
    last = [0] * n
    count = [0] * n
    buf = [b""] * n
    sent_at = [None] * n  # send time of the line waiting for its echo, or None
    next_at = [0.0] * n
    seq = 0
    sel = selectors.DefaultSelector()
    for i, s in enumerate(socks):
        sel.register(s, selectors.EVENT_READ, i)
    tmp = status + ".tmp"
    next_write = 0.0
    while True:
        t = time.monotonic()
        for i, s in enumerate(socks):
            if sent_at[i] is None and t >= next_at[i]:
                seq += 1
                s.send(f"{i} {seq}\n".encode())  # a few bytes: always fits the send buffer
                sent_at[i] = t
        for key, _ in sel.select(timeout=0.05):
            i = key.data
            try:
                data = key.fileobj.recv(4096)
            except BlockingIOError:
                continue
            if not data:
                raise SystemExit(f"connection {i} closed by the server")
            buf[i] += data
            while b"\n" in buf[i]:
                _, buf[i] = buf[i].split(b"\n", 1)
                last[i] = now_ms()
                count[i] += 1
                sent_at[i] = None
                next_at[i] = time.monotonic() + 0.2
        if time.monotonic() >= next_write:
            with open(tmp, "w") as f:
                f.write(f"connected {n}\n")
                for i in range(n):
                    f.write(f"{i} {last[i]} {count[i]}\n")
            os.replace(tmp, status)
            next_write = time.monotonic() + 0.1


def main(argv):
    if len(argv) == 3 and argv[1] == "server":
        server(int(argv[2]))
    elif len(argv) == 6 and argv[1] == "client":
        client(argv[2], int(argv[3]), int(argv[4]), argv[5])
    else:
        sys.exit("usage: sessions.py server PORT | sessions.py client HOST PORT N STATUSFILE")


if __name__ == "__main__":
    main(sys.argv)
