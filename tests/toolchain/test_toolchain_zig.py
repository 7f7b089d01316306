"""Zig builds: the teabox module, the ABI flags, and compile errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.toolchain import isolated_cache, run_payload  # noqa: F401  (fixture)

from teabox.toolchain import BuildError, Language, build, tool_invocations

pytestmark = pytest.mark.usefixtures("isolated_cache")

ECHO = """
const teabox = @import("teabox");
const helper = @import("helper.zig");

fn run(args: teabox.Args) teabox.Error!i32 {
    const input = try teabox.Input.open(args.getOr("in", "in"));
    defer input.close();
    var buf: [64]u8 = undefined;
    const data = try input.readAll(&buf);
    const output = try teabox.Output.create(args.get("out") orelse return error.OutputNotCreated);
    defer output.close();
    var scratch: [80]u8 = undefined;
    try output.print(&scratch, "{s}|{d}", .{ data, helper.FACTOR });
    return @intCast(data.len * helper.FACTOR);
}

export fn entrypoint(argc: i32, argv: [*]const [*:0]const u8) i32 {
    return run(teabox.Args.init(argc, argv)) catch |err| teabox.exitCode(err);
}
"""


def test_zig_payload_with_the_teabox_module(tmp_path: Path) -> None:
    (tmp_path / "helper.zig").write_text("pub const FACTOR = 3;\n")
    root = tmp_path / "echo.zig"
    root.write_text(ECHO)
    result = build(root)
    assert result.language is Language.ZIG
    assert {e.name for e in result.report.exports} == {"entrypoint", "memory"}
    run, outputs = run_payload(result.wasm, {"out": "o"}, {"in": b"hello"}, ("o",))
    assert run.ok, run.failure
    assert run.return_value == "15" and outputs == {"o": b"hello|3"}
    # Errors come back as teabox's negative codes (no output is bound, so none is missing).
    missing, _ = run_payload(result.wasm, {"out": "o"}, {})
    assert missing.return_value == "-1"
    too_big, _ = run_payload(result.wasm, {"out": "o"}, {"in": b"x" * 65})
    assert too_big.return_value == "-5"


def test_imported_zig_files_are_part_of_the_cache_key(tmp_path: Path) -> None:
    (tmp_path / "helper.zig").write_text("pub const FACTOR = 3;\n")
    root = tmp_path / "echo.zig"
    root.write_text(ECHO)
    build(root)
    before = tool_invocations()
    assert build(root).cached and tool_invocations() == before
    (tmp_path / "helper.zig").write_text("pub const FACTOR = 4;\n")
    rebuilt = build(root)
    assert not rebuilt.cached
    run, _ = run_payload(rebuilt.wasm, {"out": "o"}, {"in": b"ab"}, ("o",))
    assert run.return_value == "8"


def test_zig_compile_error_is_reported(tmp_path: Path) -> None:
    root = tmp_path / "bad.zig"
    root.write_text("export fn entrypoint(argc: i32, argv: i32) i32 {\n    return argc + undefined_name;\n}\n")
    with pytest.raises(BuildError) as caught:
        build(root)
    assert caught.value.summary == "compiling bad.zig failed"
    assert "bad.zig:2" in caught.value.output and "undefined_name" in caught.value.output


def test_zig_extern_function_that_does_not_exist_fails_naming_it(tmp_path: Path) -> None:
    root = tmp_path / "ext.zig"
    root.write_text(
        "extern fn mystery(x: i32) i32;\n"
        "export fn entrypoint(argc: i32, argv: i32) i32 {\n    _ = argv;\n    return mystery(argc);\n}\n"
    )
    with pytest.raises(BuildError) as caught:
        build(root)
    assert "mystery" in str(caught.value)
