"""Recognise the usual payload mistakes in a compiler's or linker's output, and say how to fix them."""

from __future__ import annotations

import re

from teabox.abi.check import HOST_FUNCTIONS

_UNDEFINED = re.compile(r"undefined symbol: `?([A-Za-z_$][\w$.]*)`?")
_LIBC = {
    "printf",
    "puts",
    "putchar",
    "fprintf",
    "sprintf",
    "snprintf",
    "malloc",
    "calloc",
    "realloc",
    "free",
    "fopen",
    "fread",
    "fwrite",
    "fclose",
    "exit",
    "abort",
    "atoi",
    "atol",
    "strtol",
    "strcmp",
    "strncmp",
    "strcpy",
    "strncpy",
    "strcat",
    "strchr",
    "strstr",
    "qsort",
    "abs",
    "time",
    "rand",
    "srand",
}


def undefined_symbols(output: str) -> list[str]:
    """The symbols a link left undefined, in order of first mention."""
    return list(dict.fromkeys(_UNDEFINED.findall(output)))


def _fix_for(symbol: str) -> str:
    if symbol in HOST_FUNCTIONS:
        return (
            f"`{symbol}` is a host function but was declared without its import: "
            '#include "teabox.h" (or "teaclave_context.h") instead of declaring it yourself'
        )
    if symbol in _LIBC:
        return (
            f"`{symbol}` is a C library function, and payloads have no C library: define it yourself or use "
            "teabox.h's helpers (teabox_strlen, teabox_arg, teabox_parse_i64, teabox_format_i64, "
            "teabox_read_all, teabox_write_all); read and write data with the teaclave_* file functions"
        )
    return (
        f"`{symbol}` is called but defined nowhere: a payload may call only its own functions and the five "
        "teaclave_* host functions; define it, add the source that defines it to the build, or remove the call"
    )


_NO_ENTRYPOINT = re.compile(r"symbol exported via --export not found: `?entrypoint`?")
ENTRYPOINT_FIX = (
    "define the function teabox calls, `int entrypoint(int argc, char* argv[])` (exported with "
    '`pub export fn entrypoint` in Zig, `#[no_mangle] pub extern "C" fn entrypoint` in Rust); '
    "a payload's `main` is never called"
)


def link_summary(output: str) -> str:
    """A one-line headline for a failed link, naming what was left undefined."""
    missing = undefined_symbols(output)
    if _NO_ENTRYPOINT.search(output):
        return "linking failed: the payload defines no `entrypoint`"
    if not missing:
        return "linking failed"
    return "linking failed: called but never defined: " + ", ".join(missing)


def link_fixes(output: str) -> list[str]:
    """One fix per undefined symbol named in a linker's output, and one for a missing ``entrypoint``."""
    fixes = [ENTRYPOINT_FIX] if _NO_ENTRYPOINT.search(output) else []
    return fixes + [_fix_for(symbol) for symbol in undefined_symbols(output)]


_MISSING_HEADER = re.compile(r"fatal error: '([^']+)' file not found")
_CXX_LIBRARY_HEADERS = {
    "algorithm",
    "array",
    "cstddef",
    "cstdint",
    "cstring",
    "iostream",
    "map",
    "memory",
    "string",
    "string_view",
    "type_traits",
    "unordered_map",
    "utility",
    "vector",
    "limits",
    "cmath",
    "cstdio",
}
_C_LIBRARY_HEADERS = {
    "stdio.h",
    "stdlib.h",
    "string.h",
    "strings.h",
    "math.h",
    "ctype.h",
    "time.h",
    "unistd.h",
    "fcntl.h",
    "assert.h",
    "errno.h",
    "signal.h",
    "locale.h",
    "wchar.h",
    "malloc.h",
}


def _missing_header_fixes(output: str) -> list[str]:
    fixes = []
    for header in dict.fromkeys(_MISSING_HEADER.findall(output)):
        if header in _CXX_LIBRARY_HEADERS:
            fixes.append(
                f"<{header}> is part of the C++ standard library, which freestanding wasm32 payloads do not have; "
                "use the language itself (classes, templates, constexpr) and the C headers stdint.h, stddef.h"
            )
        elif header in _C_LIBRARY_HEADERS:
            fixes.append(
                f"{header} was not found: payloads have no C library, only the compiler's freestanding headers "
                "(stddef.h, stdint.h, stdbool.h, limits.h, stdarg.h, float.h) and teabox.h / teaclave_context.h"
            )
    return fixes


_UNDECLARED = re.compile(r"(?:call to undeclared function|use of undeclared identifier) '([A-Za-z_]\w*)'")


def compile_fixes(output: str) -> list[str]:
    """Fixes for a C or C++ compile error: functions used without a declaration, headers that do not exist."""
    known = [name for name in dict.fromkeys(_UNDECLARED.findall(output)) if name in _LIBC or name in HOST_FUNCTIONS]
    return [_fix_for(name) for name in known] + _missing_header_fixes(output)
