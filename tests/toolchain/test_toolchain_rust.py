"""Rust builds: the teabox-guest crate, the toolchain search, and what is said when something is missing."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.toolchain import isolated_cache, run_payload, rust_available  # noqa: F401  (fixture)

from teabox.abi.check import HOST_FUNCTIONS
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


# Teaclave's style: a std payload crate, and a `teaclave_context` crate that declares the
# host functions in a plain extern block (no #[link(wasm_import_module = "env")]).
TEACLAVE_CONTEXT = r"""
use std::ffi::{c_char, c_int, CString};
use std::io;

extern "C" {
    fn teaclave_open_input(file_id: *const c_char) -> c_int;
    fn teaclave_create_output(file_id: *const c_char) -> c_int;
    fn teaclave_read_file(fd: c_int, buf: *mut u8, size: c_int) -> c_int;
    fn teaclave_write_file(fd: c_int, buf: *const u8, size: c_int) -> c_int;
    fn teaclave_close_file(fd: c_int) -> c_int;
}

/// A task's file as std::io sees it; the handle closes on drop.
pub struct ContextFile(c_int);

fn failed(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::Other, format!("{what} failed"))
}

impl ContextFile {
    pub fn open_input(name: &str) -> io::Result<Self> {
        let name = CString::new(name).map_err(|_| failed("naming the input"))?;
        match unsafe { teaclave_open_input(name.as_ptr()) } {
            -1 => Err(failed("teaclave_open_input")),
            fd => Ok(Self(fd)),
        }
    }

    pub fn create_output(name: &str) -> io::Result<Self> {
        let name = CString::new(name).map_err(|_| failed("naming the output"))?;
        match unsafe { teaclave_create_output(name.as_ptr()) } {
            -1 => Err(failed("teaclave_create_output")),
            fd => Ok(Self(fd)),
        }
    }
}

impl io::Read for ContextFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match unsafe { teaclave_read_file(self.0, buf.as_mut_ptr(), buf.len() as c_int) } {
            -1 => Err(failed("teaclave_read_file")),
            n => Ok(n as usize),
        }
    }
}

impl io::Write for ContextFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match unsafe { teaclave_write_file(self.0, buf.as_ptr(), buf.len() as c_int) } {
            -1 => Err(failed("teaclave_write_file")),
            n => Ok(n as usize),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for ContextFile {
    fn drop(&mut self) {
        unsafe { teaclave_close_file(self.0) };
    }
}
"""

WORD_COUNT = r"""
use std::collections::{BTreeMap, HashMap};
use std::ffi::{c_char, c_int, CStr};
use std::io::{Read, Write};
use teaclave_context::ContextFile;

fn arguments(argc: c_int, argv: *const *const c_char) -> HashMap<String, String> {
    let items: Vec<String> = (0..argc as usize)
        .map(|i| unsafe { CStr::from_ptr(*argv.add(i)) }.to_string_lossy().into_owned())
        .collect();
    items.chunks(2).map(|pair| (pair[0].clone(), pair[1].clone())).collect()
}

#[no_mangle]
pub extern "C" fn entrypoint(argc: c_int, argv: *const *const c_char) -> c_int {
    let args = arguments(argc, argv);
    let mut text = String::new();
    let Ok(_) = ContextFile::open_input(&args["input"]).and_then(|mut f| f.read_to_string(&mut text)) else {
        return -1;
    };
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for word in text.split_whitespace() {
        *counts.entry(word.to_lowercase()).or_default() += 1;
    }
    let report: String = counts.iter().map(|(word, n)| format!("{word} {n}\n")).collect();
    println!("{} distinct words", counts.len()); // std's stdout is unsupported here: a no-op
    let Ok(_) = ContextFile::create_output(&args["output"]).and_then(|mut f| f.write_all(report.as_bytes())) else {
        return -2;
    };
    counts.len() as c_int
}
"""


def teaclave_crate(directory: Path, source: str, *, root_attributes: str = "") -> Path:
    context = directory / "teaclave_context"
    (context / "src").mkdir(parents=True)
    (context / "Cargo.toml").write_text('[package]\nname = "teaclave_context"\nversion = "0.1.0"\nedition = "2021"\n')
    (context / "src" / "lib.rs").write_text(TEACLAVE_CONTEXT)
    payload = directory / "payload"
    (payload / "src").mkdir(parents=True)
    (payload / "Cargo.toml").write_text(
        '[package]\nname = "teaclave_payload"\nversion = "0.1.0"\nedition = "2021"\n\n'
        '[lib]\ncrate-type = ["cdylib"]\n\n[dependencies]\nteaclave_context = { path = "../teaclave_context" }\n'
    )
    (payload / "src" / "lib.rs").write_text(root_attributes + source)
    return payload


@pytest.mark.usefixtures("rust_available")
@pytest.mark.timeout(1800)  # building std the first time: minutes on a loaded 2-core machine
def test_teaclave_style_std_crate_builds_unchanged_and_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One std build for the whole session: the std crates below all reuse it."""
    std_was_built = any(rust.cargo_target_root().glob("*/.std-built-*"))
    result = build(teaclave_crate(tmp_path / "words", WORD_COUNT))
    announced = capsys.readouterr().err
    assert ("building Rust's standard library for wasm32" in announced) is not std_was_built
    if not std_was_built:
        assert "happens once" in announced and "Compiling std" in announced
    imports = {(i.module, i.name) for i in result.report.imports}
    assert imports <= {("env", name) for name in HOST_FUNCTIONS}
    assert ("env", "teaclave_open_input") in imports and ("env", "teaclave_write_file") in imports
    run, outputs = run_payload(
        result.wasm, {"input": "words", "output": "report"}, {"words": b"the cat The dog\nthe end"}, ("report",)
    )
    assert run.ok, run.failure
    assert run.return_value == "4"
    assert outputs == {"report": b"cat 1\ndog 1\nend 1\nthe 3\n"}
    panicked, _ = run_payload(result.wasm, {"output": "report"})  # args["input"] panics: std aborts
    assert not panicked.ok and panicked.failure.kind.value == "trap"

    # std is now cached: a second std crate builds without building std again or saying so.
    renamed = teaclave_crate(tmp_path / "again", WORD_COUNT.replace("to_lowercase", "to_uppercase"))
    assert build(renamed).wasm != result.wasm
    assert "standard library" not in capsys.readouterr().err

    # A no_std root whose dependency uses std takes the std route too.
    no_std_root = teaclave_crate(
        tmp_path / "mixed",
        "extern crate std;\nuse std::{format, println, string::String, vec::Vec};\n" + WORD_COUNT,
        root_attributes="#![no_std]\n",
    )
    mixed = build(no_std_root)
    assert run_payload(mixed.wasm, {"input": "w", "output": "r"}, {"w": b"a b a"}, ("r",))[1] == {"r": b"a 2\nb 1\n"}


@pytest.mark.usefixtures("rust_available")
def test_only_the_host_functions_may_stay_undefined(tmp_path: Path) -> None:
    source = WORD_COUNT.replace(
        "#[no_mangle]", 'extern "C" {\n    fn teaclave_sleep(seconds: c_int) -> c_int;\n}\n\n#[no_mangle]'
    ).replace(
        "let args = arguments(argc, argv);", "let args = arguments(argc, argv);\n    unsafe { teaclave_sleep(1) };"
    )
    with pytest.raises(BuildError) as caught:
        build(teaclave_crate(tmp_path / "sleepy", source))
    assert "teaclave_sleep" in caught.value.summary
    assert any("`teaclave_sleep` is called but defined nowhere" in fix for fix in caught.value.fixes)


@pytest.mark.usefixtures("rust_available")
def test_a_crate_named_like_one_built_before_gets_its_own_module(tmp_path: Path) -> None:
    """Cargo keeps one freshness record for crates of the same name, whatever their folder: the
    second crate's files are older than the first one's build, and it must still be compiled."""
    template = '#![no_std]\nuse teabox_guest as _;\n#[no_mangle]\npub extern "C" fn entrypoint(_a: i32, _b: i32) -> i32 { %d }\n'
    first = crate(tmp_path / "first", template % 1)
    second = crate(tmp_path / "second", template % 2)
    assert run_payload(build(first).wasm, {})[0].return_value == "1"
    assert run_payload(build(second).wasm, {})[0].return_value == "2"
