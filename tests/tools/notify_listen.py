#!/usr/bin/env python3
"""A stand-in for systemd's notification socket: binds a unix datagram socket at PATH and prints every
state message it receives ("READY=1", "STOPPING=1"), one per line, until killed or 60 s pass."""
import argparse
import os
import socket
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("path")
    args = ap.parse_args()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(args.path)
    os.chmod(args.path, 0o777)
    s.settimeout(60)
    try:
        while True:
            data = s.recv(4096)
            sys.stdout.write(data.decode(errors="replace").replace("\n", " ") + "\n")
            sys.stdout.flush()
    except (socket.timeout, KeyboardInterrupt):
        pass


if __name__ == "__main__":
    main()
