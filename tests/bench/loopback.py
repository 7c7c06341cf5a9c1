"""What the bench scripts share for talking DNS on loopback: a port free for
both UDP and TCP, and a name in wire form."""
import random
import socket
import sys


def free_port(taken=None):
    """A port on 127.0.0.1 that UDP and TCP can both bind, not in `taken`
    (which then holds it), so two servers of one run never share a port."""
    for _ in range(200):
        port = random.randint(20000, 31999)
        if taken is not None and port in taken:
            continue
        try:
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.bind(("127.0.0.1", port))
            t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            t.bind(("127.0.0.1", port))
            u.close()
            t.close()
            if taken is not None:
                taken.add(port)
            return port
        except OSError:
            continue
    sys.exit("no free port")


def wire_name(name):
    """`name` (with or without its final dot) as labels on the wire."""
    out = b""
    for label in name.strip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"
