"""What the bot reads for a caller: only what that process could read itself."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from retrieval.errors import UsageError


@dataclass(frozen=True)
class Caller:
    """The process at the other end of a connection, as the kernel reports it."""

    pid: int  # 0 where SO_PEERCRED is missing
    uid: int
    gid: int

    def groups(self) -> frozenset[int]:
        """Its groups: from /proc (what the process holds now), else the user's database entry."""
        try:
            with open(f"/proc/{self.pid}/status", encoding="ascii") as status:
                for line in status:
                    if line.startswith("Groups:"):
                        return frozenset({self.gid, *map(int, line.split()[1:])})
        except (OSError, ValueError):
            pass
        import pwd

        try:
            return frozenset({self.gid, *os.getgrouplist(pwd.getpwuid(self.uid).pw_name, self.gid)})
        except (KeyError, OSError):
            return frozenset({self.gid})

    def working_directory(self, claimed: str) -> str:
        """Its real working directory. The request's `cwd` is only a claim: it must be the one
        /proc shows for the process, where there is a /proc to ask."""
        if self.pid == 0:  # no SO_PEERCRED: the socket's 0600 mode is all there is to go on
            return os.path.realpath(claimed)
        try:
            actual = os.readlink(f"/proc/{self.pid}/cwd")
        except OSError as exc:
            raise UsageError(f"cannot see the working directory of the qa ingest that asked (pid {self.pid}): "
                             f"{exc.strerror or exc}") from None
        if os.path.realpath(claimed) != actual:
            raise UsageError(f"cwd {claimed!r} is not the working directory of the process that asked (pid {self.pid})")
        return actual


class CallerRules:
    """`may_read` for an ingest handed over by `caller` (see ReadRules): a file or folder is
    read only when its real path lies inside one of `roots` (the caller's working directory
    and the paths it gave) and the caller could read it.

    "Could read" follows the kernel's rule for mode bits: the owner's bits when the caller
    owns it, else the group's when it is in the group, else the others'; read permission on
    the file (and on a folder, search too), and search permission on every folder above it,
    along the path as named and the real one. Root may read anything. POSIX ACLs are not
    evaluated: a file that has one is refused unless the caller owns it."""

    def __init__(self, caller: Caller, roots: list[str]):
        self.caller = caller
        self.groups = caller.groups()
        self.roots = [os.path.realpath(r) for r in roots]
        self._searchable: dict[str, bool] = {}  # folder -> whether the caller may pass through it

    def __call__(self, path: Path, folder: bool) -> str | None:
        real = os.path.realpath(path)
        if not any(os.path.commonpath([real, root]) == root for root in self.roots):
            return (f"outside the working directory of the qa ingest that asked and the paths it gave "
                    f"({_printable(real)}): not read")
        if self.caller.uid == 0:
            return None
        try:
            info = os.stat(real)
        except OSError as exc:
            return f"cannot read: {exc.strerror or exc}"
        want = stat.S_IROTH | (stat.S_IXOTH if folder else 0)
        above = {*_parents(os.path.abspath(path)), *_parents(real)}
        if not (self._permits(info, want) and self._acl_free(real, info)) or not all(map(self._search, above)):
            return f"uid {self.caller.uid}, which asked for this ingest, may not read it: not read"
        return None

    def _permits(self, info: os.stat_result, want: int) -> bool:
        if info.st_uid == self.caller.uid:
            bits = info.st_mode >> 6
        elif info.st_gid in self.groups:
            bits = info.st_mode >> 3
        else:
            bits = info.st_mode
        return bits & want == want

    def _acl_free(self, path: str, info: os.stat_result) -> bool:
        if info.st_uid == self.caller.uid or not hasattr(os, "listxattr"):
            return True
        try:
            return "system.posix_acl_access" not in os.listxattr(path)
        except OSError:  # a file system without extended attributes has no ACLs either
            return True

    def _search(self, folder: str) -> bool:
        if folder not in self._searchable:
            try:
                info = os.stat(folder)
            except OSError:
                self._searchable[folder] = False
            else:
                self._searchable[folder] = self._permits(info, stat.S_IXOTH) and self._acl_free(folder, info)
        return self._searchable[folder]


def _parents(path: str) -> list[str]:
    return [str(p) for p in Path(path).parents]


def _printable(path: str) -> str:
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
