"""Which entries appear in a few folders, recorded by the kernel (Linux inotify): no polling, no timing.

Watch empty folders: anything created anywhere below one first creates an entry directly in it, so watching
the top level is enough, and an entry created and deleted again is still recorded.
"""

from __future__ import annotations

import ctypes
import os
import struct
from pathlib import Path

IN_CREATE = 0x100
IN_MOVED_TO = 0x80
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len (then len bytes of name)


class Watch:
    """Entries created in the given folders from now on."""

    def __init__(self, *folders: Path) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self.fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")
        self.folders: dict[int, Path] = {}
        for folder in folders:
            wd = libc.inotify_add_watch(self.fd, str(folder).encode(), IN_CREATE | IN_MOVED_TO)
            if wd < 0:
                raise OSError(ctypes.get_errno(), f"cannot watch {folder}")
            self.folders[wd] = folder

    def created(self) -> list[str]:
        """Paths of the entries created since the last call (queued by the kernel meanwhile)."""
        found = []
        while True:
            try:
                data = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                return found
            offset = 0
            while offset < len(data):
                wd, _, _, size = _EVENT.unpack_from(data, offset)
                name = data[offset + _EVENT.size : offset + _EVENT.size + size].rstrip(b"\0").decode()
                found.append(str(self.folders[wd] / name))
                offset += _EVENT.size + size

    def close(self) -> None:
        os.close(self.fd)
