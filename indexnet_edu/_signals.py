"""The stop signals that training, sweeps and the GPU programme answer, and one way to answer them."""
from __future__ import annotations

import contextlib
import signal
import threading

#: Ctrl-C, a polite kill, a closed terminal (SIGHUP does not exist on Windows).
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


@contextlib.contextmanager
def handling_signals(handler, signals=STOP_SIGNALS):
    """Within the block, ``signals`` call ``handler(signum, frame)``; the previous handlers come
    back after. A no-op off the main thread, where Python cannot install handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, handler) for signum in signals}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
