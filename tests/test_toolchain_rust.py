"""Rust builds: the teabox-guest crate, the toolchain search, and what is said when something is missing."""

from __future__ import annotations

from pathlib import Path

import pytest
from toolchain_support import isolated_cache, run_payload, rust_available  # noqa: F401  (fixture)

from teabox.toolchain import (
    RUST_CRATE,
    BuildError,
    Language,
    ToolchainMissing,
    build,
    rust,
    tool_invocations,
)

pytestmark = pytest.mark.usefixtures("isolated_cache")

GUEST_DEP = f'teabox-guest = {{ path = "{RUST_CRATE}" }}'


def crate(directory: Path, source: str, *, manifest_extra: str = '[lib]\ncrate-type = ["cdylib"]\n') -> Path:
    (directory / "src").mkdir(parents=True)
    (directory / "Cargo.toml").write_text(
        f'[package]\nname = "probe"\nversion = "0.1.0"\nedition = "2021"\n\n{manifest_extra}\n[dependencies]\n{GUEST_DEP}\n'
    )
    (directory / "src" / "lib.rs").write_text(source)
    return directory


ARGS_AND_FILES = r"""
#![no_std]
use core::fmt::Write;
use teabox_guest::{entrypoint, Args, Error, Input, Output};

fn run(args: Args) -> Result<i32, Error> {
    let mut buf = [0u8; 32];
    let data = Input::open(args.get_or("in", c"in"))?.read_all(&mut buf)?;
    let mut out = Output::create(args.get("out").ok_or(Error::OutputNotCreated)?)?;
    write!(out, "{}:{}", args.len(), data.len()).map_err(|_| Error::WriteFailed)?;
    out.write_all(data)?;
    Ok(args.get_str("n").and_then(|n| n.parse().ok()).unwrap_or(-100))
}

entrypoint!(run);
"""


@pytest.mark.usefixtures("rust_available")
def test_rust_crate_with_teabox_guest(tmp_path: Path) -> None:
    result = build(crate(tmp_path / "probe", ARGS_AND_FILES))
    assert result.language is Language.RUST
    assert {i.module for i in result.report.imports} == {"env"}
    run, outputs = run_payload(result.wasm, {"n": "41", "out": "o"}, {"in": b"abc"}, ("o",))
    assert run.ok, run.failure
    assert run.return_value == "41" and outputs == {"o": b"2:3abc"}
    missing, _ = run_payload(result.wasm, {"out": "o"}, {})
    assert missing.return_value == "-1"
    too_big, _ = run_payload(result.wasm, {"out": "o"}, {"in": b"x" * 33})
    assert too_big.return_value == "-5"
    before = tool_invocations()
    assert build(tmp_path / "probe").cached and tool_invocations() == before


@pytest.mark.usefixtures("rust_available")
def test_panic_is_a_failed_run(tmp_path: Path) -> None:
    source = (
        '#![no_std]\n#[no_mangle]\npub extern "C" fn entrypoint(argc: i32, _argv: i32) -> i32 {\n'
        "    let table = [1, 2, 3];\n    table[argc as usize]\n}\nuse teabox_guest as _;\n"
    )
    result = build(crate(tmp_path / "panics", source))
    run, _ = run_payload(result.wasm, {"a": "1", "b": "2"})
    assert not run.ok and run.failure.kind.value == "trap"


def test_crate_that_is_not_a_cdylib_gets_the_fix(tmp_path: Path) -> None:
    with pytest.raises(BuildError) as caught:
        build(crate(tmp_path / "lib", "#![no_std]\n", manifest_extra=""))
    assert "does not build a cdylib" in caught.value.summary
    assert any('crate-type = ["cdylib"]' in fix for fix in caught.value.fixes)


@pytest.mark.usefixtures("rust_available")
def test_rust_compile_error_is_reported(tmp_path: Path) -> None:
    source = '#![no_std]\nuse teabox_guest as _;\n#[no_mangle]\npub extern "C" fn entrypoint(a: i32, b: i32) -> i32 { a + missing }\n'
    with pytest.raises(BuildError) as caught:
        build(crate(tmp_path / "broken", source))
    assert caught.value.summary == "building crate broken failed"
    assert "cannot find value `missing`" in caught.value.output


def test_missing_rust_toolchain_says_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(rust, "_candidates", list)
    rust.find_toolchain.cache_clear()
    try:
        with pytest.raises(ToolchainMissing) as caught:
            build(crate(tmp_path / "probe", ARGS_AND_FILES))
    finally:
        rust.find_toolchain.cache_clear()
    assert "apt-get install rustc-web cargo-web rust-web-src" in "\n".join(caught.value.fixes)
    assert "rustup target add wasm32-unknown-unknown" in "\n".join(caught.value.fixes)


def test_rustc_without_the_wasm_target_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "bin" / "rustc"
    fake.parent.mkdir()
    sysroot = tmp_path / "sysroot"
    (sysroot / "lib" / "rustlib").mkdir(parents=True)
    fake.write_text(f'#!/bin/sh\nif [ "$1" = "--print" ]; then echo {sysroot}; else echo "rustc 1.0.0"; fi\n')
    fake.chmod(0o755)
    monkeypatch.setattr(rust, "_candidates", lambda: [fake])
    monkeypatch.setenv("PATH", str(fake.parent))
    rust.find_toolchain.cache_clear()
    try:
        with pytest.raises(ToolchainMissing) as caught:
            rust.find_toolchain()
    finally:
        rust.find_toolchain.cache_clear()
    assert str(fake) in caught.value.summary
