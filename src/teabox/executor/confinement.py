"""What stands behind wasmtime in a sandbox process, should a payload ever escape the engine.

A sandbox process confines itself once it has started up, before it reads its
first request:

- it keeps no descriptor but its connection to the parent, the pipe that tells
  it the parent is gone, and ``/dev/null`` as its standard streams;
- resource limits: address space, open files, no core dumps, and a CPU-time
  limit raised before each run to what that run may use;
- when teabox runs as root it becomes an unprivileged user (``nobody`` unless
  ``TEABOX_SANDBOX_USER`` names another) with no supplementary groups;
- a seccomp filter refuses, with ``EPERM``, every system call that makes a
  network socket, runs a program, opens or creates a file, or changes the file
  system, and other processes' memory, tracing, namespaces and new processes.

Everything the sandbox needs from outside — payloads, compiled artifacts,
input and output descriptors — its parent sends it.
"""

from __future__ import annotations

import errno
import os
import pwd
import resource

import pyseccomp as seccomp  # type: ignore[import-untyped]

from teabox import config

# Address space a sandbox process may map: each run's linear memory reserves 4 GiB plus guard
# pages of address space (not memory), next to the interpreter and compiled code.
ADDRESS_SPACE_LIMIT = 16 * 2**30
# Descriptors: the connection, the watch pipe, the standard streams, and a run's data files
# (which travel in one message: the kernel passes at most 253 descriptors at a time).
MAX_DATA_FILES = 200
OPEN_FILES_LIMIT = MAX_DATA_FILES + 32
# CPU seconds a run may use beyond its time limit before the kernel ends the process (SIGXCPU):
# the parent kills it at the deadline, so this only matters if the parent cannot.
CPU_SLACK_SECONDS = 30

# System calls refused with EPERM; everything else a Python interpreter and wasmtime need stays allowed.
_REFUSED = (
    # network
    "socket",
    "socketpair",
    "connect",
    "bind",
    "listen",
    "accept",
    "accept4",
    # running programs and new processes (threads are made with clone and CLONE_THREAD; see below)
    "execve",
    "execveat",
    "fork",
    "vfork",
    # opening, creating and changing files
    "open",
    "openat",
    "openat2",
    "creat",
    "open_by_handle_at",
    "name_to_handle_at",
    "memfd_create",
    "mknod",
    "mknodat",
    "mkdir",
    "mkdirat",
    "rmdir",
    "unlink",
    "unlinkat",
    "rename",
    "renameat",
    "renameat2",
    "link",
    "linkat",
    "symlink",
    "symlinkat",
    "truncate",
    "chmod",
    "fchmodat",
    "chown",
    "lchown",
    "fchownat",
    "chroot",
    "mount",
    "umount2",
    "pivot_root",
    # other processes, the kernel, namespaces
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kexec_load",
    "init_module",
    "finit_module",
    "delete_module",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "keyctl",
    "add_key",
    "request_key",
    "unshare",
    "setns",
    "setuid",
    "setgid",
    "setreuid",
    "setregid",
    "setresuid",
    "setresgid",
    "setgroups",
)
_CLONE_THREAD = 0x00010000


def seccomp_filter() -> seccomp.SyscallFilter:
    """The filter a sandbox process loads: allow by default, refuse the calls above."""
    refuse = seccomp.ERRNO(errno.EPERM)
    syscall_filter = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    syscall_filter.set_attr(seccomp.Attr.CTL_TSYNC, 1)  # every thread of the process, not just the caller
    for name in _REFUSED:
        syscall_filter.add_rule(refuse, name)
    # clone without CLONE_THREAD would make a new process; clone3 passes its flags in memory, where
    # seccomp cannot look, so it reports "not implemented" and the C library falls back to clone.
    syscall_filter.add_rule(refuse, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, _CLONE_THREAD, 0))
    syscall_filter.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    return syscall_filter


def sandbox_user() -> str:
    return config.SANDBOX_USER.get() or config.DEFAULT_SANDBOX_USER


def close_other_descriptors(keep: tuple[int, ...]) -> None:
    """Close every descriptor but the standard streams and ``keep``."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass  # the directory's own descriptor, already closed


def set_limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_LIMIT, ADDRESS_SPACE_LIMIT))
    resource.setrlimit(resource.RLIMIT_NOFILE, (OPEN_FILES_LIMIT, OPEN_FILES_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def limit_cpu_for_run(timeout: float) -> None:
    """Let the next run use ``timeout`` plus slack more CPU seconds than the process has used so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = usage.ru_utime + usage.ru_stime
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = int(used + timeout) + CPU_SLACK_SECONDS
    resource.setrlimit(resource.RLIMIT_CPU, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard))


def drop_privileges(user: str) -> None:
    """Become ``user`` (with its group, and no others) if running as root."""
    if os.geteuid() != 0:
        return
    entry = pwd.getpwnam(user)
    if entry.pw_uid == 0:
        raise PermissionError(f"the sandbox user {user!r} is root; name an unprivileged user")
    os.setgroups([])
    os.setresgid(entry.pw_gid, entry.pw_gid, entry.pw_gid)
    os.setresuid(entry.pw_uid, entry.pw_uid, entry.pw_uid)


def confine(keep: tuple[int, ...], user: str) -> None:
    """Everything above, in the order that lets each step still be taken."""
    close_other_descriptors(keep)
    set_limits()
    drop_privileges(user)
    seccomp_filter().load()  # sets no_new_privs too
