"""Rust payloads: one crate directory, built by cargo for wasm32-unknown-unknown.

Two kinds of Rust installation can build for wasm32:

* one with the target's standard library prebuilt (rustup's
  ``rustup target add wasm32-unknown-unknown``; Debian's ``rustc`` with
  ``libstd-rust-dev-wasm32``);
* one with the library *sources* (Debian's ``rustc-web`` + ``cargo-web`` +
  ``rust-web-src``), from which cargo builds ``core`` and ``alloc`` for the
  target itself (``-Zbuild-std``, which stable cargo allows with
  ``RUSTC_BOOTSTRAP=1``), using the crates Debian vendors next to the sources.

Either way the module is linked by the LLD that ships inside the ``ziglang``
package, so no separate linker has to be installed.
"""

from __future__ import annotations

import fcntl
import functools
import os
import shlex
import shutil
import stat
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

from teabox.executor.cache import default_cache_dir
from teabox.toolchain.backend import Compiled, existing_unique, parse_make_dependencies
from teabox.toolchain.diagnostics import link_fixes
from teabox.toolchain.errors import BuildError, ToolchainMissing
from teabox.toolchain.options import BuildOptions
from teabox.toolchain.process import ZIG, run_tool
from teabox.toolchain.sdk import RUST_CRATE
from teabox.toolchain.sources import SourceSet
from teabox.toolchain.zig_toolchain import zig_fingerprint

TARGET = "wasm32-unknown-unknown"
INSTALL_FIXES = [
    "on Debian or Ubuntu: apt-get install rustc-web cargo-web rust-web-src",
    f"with rustup: rustup target add {TARGET}",
]
_SKIPPED_DIRS = {"target", ".git"}


@dataclass(frozen=True)
class RustToolchain:
    rustc: Path
    cargo: Path
    version: str  # `rustc -vV`: release, commit and LLVM version
    library_sources: Path | None  # set when core and alloc must be built from these sources


def _probe(rustc: Path) -> tuple[RustToolchain | None, str]:
    """The toolchain behind ``rustc`` if it can build for wasm32, else why not."""
    try:
        version = subprocess.run([rustc, "-vV"], capture_output=True, text=True, check=True).stdout.strip()
        sysroot = Path(
            subprocess.run([rustc, "--print", "sysroot"], capture_output=True, text=True, check=True).stdout.strip()
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        return None, f"{rustc} does not run ({exc})"
    cargo = rustc.with_name("cargo")
    if not cargo.is_file():
        found = shutil.which("cargo")
        if found is None:
            return None, f"{rustc} has no cargo next to it and none is on PATH"
        cargo = Path(found)
    rustlib = sysroot / "lib" / "rustlib"
    if (rustlib / TARGET / "lib").is_dir():
        return RustToolchain(rustc, cargo, version, None), ""
    sources = rustlib / "src" / "rust" / "library"
    if (sources / "Cargo.lock").is_file():
        return RustToolchain(rustc, cargo, version, sources), ""
    return None, f"{rustc} has neither the {TARGET} standard library nor the library sources to build it"


def _candidates() -> list[Path]:
    """Where to look, best first: an explicit choice, then Debian's, then PATH, then rustup's."""
    found = [
        os.environ.get("TEABOX_RUSTC"),
        "/usr/bin/rustc",
        shutil.which("rustc"),
        str(Path.home() / ".cargo" / "bin" / "rustc"),
    ]
    return list(dict.fromkeys(Path(p) for p in found if p and Path(p).is_file()))


@functools.cache
def find_toolchain() -> RustToolchain:
    """The first Rust installation that can build wasm32 payloads, or ToolchainMissing saying what to install."""
    reasons = []
    for rustc in _candidates():
        toolchain, reason = _probe(rustc)
        if toolchain is not None:
            return toolchain
        reasons.append(reason)
    looked = "; ".join(reasons) if reasons else "no rustc found"
    raise ToolchainMissing(
        f"no Rust toolchain that can build for {TARGET} is installed ({looked})", fixes=INSTALL_FIXES
    )


def _linker_wrapper() -> Path:
    """A linker program for cargo that runs zig's wasm-ld (cargo wants one executable path, not a command)."""
    directory = default_cache_dir() / "toolchain"
    directory.mkdir(parents=True, exist_ok=True)
    wrapper = directory / "zig-wasm-ld"
    # rustc calls its linker as `rust-lld -flavor wasm ...`; wasm-ld itself takes no flavor.
    script = f'#!/bin/sh\nif [ "$1" = "-flavor" ]; then shift 2; fi\nexec {shlex.join(ZIG)} wasm-ld "$@"\n'
    if not wrapper.is_file() or wrapper.read_text() != script:
        temporary = wrapper.with_name(f".{wrapper.name}.{os.getpid()}")
        temporary.write_text(script)
        temporary.chmod(stat.S_IRWXU)
        os.replace(temporary, wrapper)
    return wrapper


def _library_name(crate: Path) -> str:
    """The cdylib's artifact name; refuse a crate that cannot produce a wasm module."""
    manifest = crate / "Cargo.toml"
    try:
        data = tomllib.loads(manifest.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise BuildError(f"{manifest} is not valid TOML: {exc}") from exc
    lib = data.get("lib", {})
    if "cdylib" not in lib.get("crate-type", []):
        raise BuildError(
            f"{manifest} does not build a cdylib, so cargo would not produce a wasm module",
            fixes=['add to Cargo.toml:\n  [lib]\n  crate-type = ["cdylib"]'],
        )
    name = lib.get("name") or data.get("package", {}).get("name")
    if not name:
        raise BuildError(f"{manifest} has no [package] name")
    return str(name).replace("-", "_")


def _fixes(output: str) -> list[str]:
    fixes = link_fixes(output)
    if "can't find crate for `std`" in output:
        fixes.append(
            "payload crates are #![no_std]: add `#![no_std]` and use teabox-guest for files, arguments and panics"
        )
    if "teabox-guest" in output and ("failed to read" in output or "failed to load source" in output):
        fixes.append(
            f"the teabox-guest path dependency points nowhere: set it to {RUST_CRATE} (`teabox sdk-path --rust`)"
        )
    elif "no matching package named" in output or "failed to get" in output:
        fixes.append(
            "payload crates cannot use crates.io dependencies here (the build is offline); "
            "depend only on teabox-guest (a path dependency) and your own path crates"
        )
    return fixes


class RustBackend:
    def fingerprint(self) -> str:
        toolchain = find_toolchain()
        mode = "build-std" if toolchain.library_sources else "prebuilt"
        return f"{toolchain.version}\nmode={mode}\nlinker=wasm-ld of {zig_fingerprint()}"

    def recipe(self, options: BuildOptions) -> list[str]:
        return [
            f"--target={TARGET}",
            f"opt-level={'z' if options.size else '3'}",
            "lto=true",
            "codegen-units=1",
            "panic=abort",
            "strip=true",
            *self._rustflags(options),
        ]

    def _rustflags(self, options: BuildOptions) -> list[str]:
        return ["-Ctarget-feature=+simd128"] if options.simd else []

    def key_files(self, sources: SourceSet) -> list[Path]:
        (crate,) = sources.paths
        files = []
        for directory, subdirs, names in os.walk(crate):
            subdirs[:] = sorted(d for d in subdirs if d not in _SKIPPED_DIRS and not d.startswith("."))
            # Cargo writes Cargo.lock on the first build; it must not change the key.
            files += [Path(directory) / n for n in sorted(names) if n != "Cargo.lock"]
        return files

    def _command(self, toolchain: RustToolchain, crate: Path, options: BuildOptions, target_dir: Path) -> list[str]:
        opt = '"z"' if options.size else "3"
        command = [
            str(toolchain.cargo),
            "build",
            "--release",
            f"--target={TARGET}",
            f"--manifest-path={crate / 'Cargo.toml'}",
            f"--target-dir={target_dir}",
            "--config",
            f'target.{TARGET}.linker="{_linker_wrapper()}"',
            "--config",
            f"profile.release.opt-level={opt}",
            "--config",
            "profile.release.lto=true",
            "--config",
            "profile.release.codegen-units=1",
            "--config",
            'profile.release.panic="abort"',
            "--config",
            "profile.release.strip=true",
            "--config",
            "profile.release.debug=false",
        ]
        if toolchain.library_sources is not None:
            command += ["-Zbuild-std=core,alloc"]
            vendor = toolchain.library_sources / "vendor"
            if vendor.is_dir():
                command += [
                    "--offline",
                    "--config",
                    'source.crates-io.replace-with="teabox-vendored-std"',
                    "--config",
                    f'source.teabox-vendored-std.directory="{vendor}"',
                ]
        return command

    def compile(self, sources: SourceSet, options: BuildOptions, workdir: Path) -> Compiled:
        (crate,) = sources.paths
        toolchain = find_toolchain()
        name = _library_name(crate)
        # One target directory per flavour, shared by all crates, so core and
        # alloc are compiled once per flavour rather than once per payload.
        flavour = f"{'size' if options.size else 'speed'}-{'simd' if options.simd else 'nosimd'}"
        target_dir = default_cache_dir() / "cargo-target" / flavour
        target_dir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "RUSTC": str(toolchain.rustc),
            "CARGO_ENCODED_RUSTFLAGS": "\x1f".join(self._rustflags(options)),
            "CARGO_TERM_COLOR": "never",
        }
        env.pop("RUSTFLAGS", None)
        if toolchain.library_sources is not None:
            env["RUSTC_BOOTSTRAP"] = "1"
        with open(target_dir / ".teabox.lock", "w") as lock:
            # Crates with the same name share an artifact path: hold the directory until it is read.
            fcntl.flock(lock, fcntl.LOCK_EX)
            run = run_tool(self._command(toolchain, crate, options, target_dir), cwd=crate, env=env)
            if not run.ok:
                raise BuildError(f"building crate {crate.name} failed", output=run.output, fixes=_fixes(run.output))
            release = target_dir / TARGET / "release"
            wasm = (release / f"{name}.wasm").read_bytes()
            depfile = release / f"{name}.d"
            dependencies = parse_make_dependencies(depfile.read_text()) if depfile.is_file() else []
        return Compiled(wasm, existing_unique([*self.key_files(sources), *dependencies]), run.output)
