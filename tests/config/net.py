import socket


def free_port():
    """A local port nothing listens on (bound, then released): closed until someone binds it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
