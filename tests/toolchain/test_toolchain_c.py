"""C and C++ builds: flags that satisfy the guest ABI, the SDK header, and clear errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import wasmtime
from support.toolchain import isolated_cache, run_payload  # noqa: F401  (fixture)

from teabox.abi import check
from teabox.toolchain import BuildError, Language, build

pytestmark = pytest.mark.usefixtures("isolated_cache")


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text)
    return path


def test_module_satisfies_the_abi(tmp_path: Path) -> None:
    source = write(
        tmp_path, "twice.c", '#include "teabox.h"\nint entrypoint(int argc, char *argv[]) { return 2 * argc; }\n'
    )
    result = build([source], tmp_path / "twice.wasm")
    assert result.language is Language.C
    assert (tmp_path / "twice.wasm").read_bytes() == result.wasm
    report = check(result.wasm)
    assert {e.name for e in report.exports} == {"entrypoint", "memory"}
    assert report.imports == []
    run, _ = run_payload(result.wasm, {"x": 1, "y": 2})
    assert run.ok and run.return_value == "8"


def test_declared_but_undefined_function_fails_naming_it(tmp_path: Path) -> None:
    source = write(
        tmp_path,
        "calls.c",
        "int helper_that_is_nowhere(int);\n"
        "int entrypoint(int argc, char *argv[]) { return helper_that_is_nowhere(argc); }\n",
    )
    with pytest.raises(BuildError) as caught:
        build([source])
    error = caught.value
    assert "helper_that_is_nowhere" in error.summary
    assert any("helper_that_is_nowhere" in fix and "defined nowhere" in fix for fix in error.fixes)
    assert "undefined symbol: helper_that_is_nowhere" in error.output


def test_library_call_without_declaration_says_there_is_no_libc(tmp_path: Path) -> None:
    source = write(tmp_path, "hello.c", 'int entrypoint(int argc, char *argv[]) { printf("hi"); return 0; }\n')
    with pytest.raises(BuildError) as caught:
        build([source])
    assert "hello.c:1" in caught.value.output and "printf" in caught.value.output
    assert any("no C library" in fix for fix in caught.value.fixes)


def test_host_function_declared_without_the_header_is_explained(tmp_path: Path) -> None:
    source = write(
        tmp_path,
        "own.c",
        "int teaclave_open_input(char *fid);\n"
        'int entrypoint(int argc, char *argv[]) { return teaclave_open_input("x"); }\n',
    )
    with pytest.raises(BuildError) as caught:
        build([source])
    assert "teaclave_open_input" in caught.value.summary
    assert any("teaclave_context.h" in fix for fix in caught.value.fixes)


def test_compile_error_reports_the_compilers_message(tmp_path: Path) -> None:
    source = write(tmp_path, "broken.c", "int entrypoint(int argc, char *argv[]) {\n  return argc + ;\n}\n")
    with pytest.raises(BuildError) as caught:
        build([source])
    assert caught.value.summary == "compiling broken.c failed"
    assert "broken.c:2:" in caught.value.output and "expected expression" in caught.value.output


MEM_USER = r"""
#include "teabox.h"
void *memset(void *, int, unsigned long);
void *memcpy(void *, const void *, unsigned long);
void *memmove(void *, const void *, unsigned long);
struct block { char bytes[300]; };
static void copy(struct block *to, const struct block *from) { *to = *from; }

int entrypoint(int argc, char *argv[]) {
    char zeroed[256] = {0};              /* the compiler's implicit memset */
    struct block a, b;
    memset(a.bytes, 'x', sizeof a.bytes);  /* explicit calls, resolved by the build */
    copy(&b, &a);                        /* the compiler's implicit memcpy */
    memcpy(zeroed + 10, b.bytes, 5);
    memmove(zeroed + 12, zeroed + 10, 5);
    int sum = 0;
    for (int i = 0; i < 256; i++) sum += zeroed[i];
    return sum + b.bytes[argc] - 'x';
}
"""


def test_memset_memcpy_memmove_are_supplied_not_imported(tmp_path: Path) -> None:
    result = build([write(tmp_path, "mem.c", MEM_USER)])
    assert result.report.imports == []
    run, _ = run_payload(result.wasm)
    assert run.ok, run.failure
    assert run.return_value == str(7 * ord("x"))  # bytes 10..16 are 'x' after the overlapping move


def test_a_payloads_own_libc_functions_win_over_the_builds(tmp_path: Path) -> None:
    # Teaclave-era sources define these themselves, with their own signatures.
    source = write(
        tmp_path,
        "own.c",
        r"""
#include "teaclave_context.h"
int strlen(char *s) { int n = 0; while (s[n]) n++; return n + 1000; }
char *memset(char *p, int c, int n) { for (int i = 0; i < n; i++) ((volatile char *)p)[i] = (char)(c + 1); return p; }
int atoi(char *s) { int v = 0; while (*s >= '0' && *s <= '9') v = v * 10 + *s++ - '0'; return v; }
int entrypoint(int argc, char *argv[]) {
    char buf[8];
    memset(buf, 'a', 8);
    return strlen(argv[0]) + atoi(argv[1]) + buf[7];
}
""",
    )
    result = build([source])
    run, _ = run_payload(result.wasm, {"k": "20"})
    assert run.return_value == str(1001 + 20 + ord("b"))


def test_cxx_with_classes_and_templates(tmp_path: Path) -> None:
    source = write(
        tmp_path,
        "shapes.cpp",
        r"""
#include "teabox.h"
template <typename T, int N> struct Stack { T items[N]; int size = 0; void push(T v) { items[size++] = v; } };
struct Shape { virtual int area() const = 0; virtual ~Shape() = default; };
struct Square : Shape { int side; explicit Square(int s) : side(s) {} int area() const override { return side * side; } };
extern "C" int entrypoint(int argc, char *argv[]) {
    Stack<int, 8> stack;
    for (int i = 0; i < argc; i++) stack.push(i);
    Square square(stack.size + 1);
    const Shape &shape = square;
    return shape.area();
}
""",
    )
    result = build([source])
    assert result.language is Language.CXX
    run, _ = run_payload(result.wasm, {"a": "1", "b": "2"})
    assert run.return_value == "25"


def test_cxx_standard_library_header_gets_a_fix(tmp_path: Path) -> None:
    source = write(tmp_path, "vec.cc", '#include <vector>\nextern "C" int entrypoint(int, char**) { return 0; }\n')
    with pytest.raises(BuildError) as caught:
        build([source])
    assert any("C++ standard library" in fix for fix in caught.value.fixes)


def test_c_and_cxx_sources_link_together(tmp_path: Path) -> None:
    c = write(tmp_path, "helper.c", "int triple(int x) { return 3 * x; }\n")
    cxx = write(
        tmp_path,
        "main.cc",
        'extern "C" int triple(int);\nextern "C" int entrypoint(int argc, char **argv) { return triple(argc); }\n',
    )
    result = build([cxx, c])
    run, _ = run_payload(result.wasm, {"a": "1"})
    assert run.return_value == "6"


def test_header_helpers(tmp_path: Path) -> None:
    source = write(
        tmp_path,
        "helpers.c",
        r"""
#include "teabox.h"
int entrypoint(int argc, char *argv[]) {
    int64_t v;
    if (teabox_parse_i64(" -9223372036854775808\n", &v) != 0 || v != INT64_MIN) return 1;
    if (teabox_parse_i64("9223372036854775808", &v) != -1) return 2;   /* overflow */
    if (teabox_parse_i64("12x", &v) != -1 || teabox_parse_i64("", &v) != -1 || teabox_parse_i64("-", &v) != -1) return 3;
    char text[TEABOX_I64_MAX_CHARS + 1];
    if (teabox_format_i64(INT64_MIN, text) != 20 || !teabox_streq(text, "-9223372036854775808")) return 4;
    if (teabox_format_i64(0, text) != 1 || !teabox_streq(text, "0")) return 5;
    if (teabox_strlen("four") != 4) return 6;
    if (!teabox_streq(teabox_arg_or(argc, argv, "absent", "dflt"), "dflt")) return 7;
    const char *name = teabox_arg(argc, argv, "out");
    if (name == 0 || teabox_arg(argc, argv, "nope") != 0) return 8;
    int fd = teaclave_create_output(name);
    if (teabox_write_i64(fd, -42) != 3 || teabox_write_str(fd, " ok") != 3) return 9;
    int in = teaclave_open_input("data");
    char buf[4];
    if (teabox_read_all(in, buf, 4) != 4 || teabox_read_all(in, buf, 4) != 2) return 10;
    return 0;
}
""",
    )
    result = build([source])
    run, outputs = run_payload(result.wasm, {"out": "result", "zz": "1"}, {"data": b"abcdef"}, ("result",))
    assert run.ok, run.failure
    assert run.return_value == "0"
    assert outputs == {"result": b"-42 ok"}


VECTOR_LOOP = (
    "static int a[4096];\nint entrypoint(int argc, char *argv[]) { int s = 0;\n"
    "for (int i = 0; i < 4096; i++) a[i] = i * argc; for (int i = 0; i < 4096; i++) s += a[i]; return s; }\n"
)


def _validates_without_simd(wasm: bytes) -> bool:
    config = wasmtime.Config()
    config.wasm_simd = False
    config.wasm_relaxed_simd = False
    try:
        wasmtime.Module.validate(wasmtime.Engine(config), wasm)
    except wasmtime.WasmtimeError:
        return False
    return True


def test_simd_by_default_and_off_on_request(tmp_path: Path) -> None:
    source = write(tmp_path, "loop.c", VECTOR_LOOP)
    vectorised = build([source])
    plain = build([source], simd=False)
    assert not _validates_without_simd(vectorised.wasm)  # it really uses SIMD
    assert _validates_without_simd(plain.wasm)
    for result in (vectorised, plain):
        run, _ = run_payload(result.wasm, {"a": "1"})
        assert run.return_value == str(2 * sum(range(4096)))


def test_size_option_changes_the_build(tmp_path: Path) -> None:
    source = write(tmp_path, "loop.c", VECTOR_LOOP)
    fast, small = build([source]), build([source], size=True)
    assert fast.key != small.key
    assert small.options.goal == "size" and fast.options.goal == "speed"
    assert len(small.wasm) < len(fast.wasm)


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["notes.txt"], "unknown kind of source '.txt'"),
        (["missing.c"], "does not exist"),
        (["a.c", "b.zig"], "only C and C++ sources may be combined"),
        ([], "no sources given"),
    ],
)
def test_bad_source_lists(tmp_path: Path, names: list[str], message: str) -> None:
    for name in names:
        if name != "missing.c":
            write(tmp_path, name, "")
    with pytest.raises(BuildError, match=re.escape(message)):
        build([tmp_path / n for n in names])
