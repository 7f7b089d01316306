"""Rust payloads: one crate directory, built by cargo for wasm32-unknown-unknown.

Two kinds of Rust installation can build for wasm32:

* one with the target's standard library prebuilt (rustup's
  ``rustup target add wasm32-unknown-unknown``; Debian's ``rustc`` with
  ``libstd-rust-dev-wasm32``);
* one with the library *sources* (Debian's ``rustc-web`` + ``cargo-web`` +
  ``rust-web-src``), from which cargo builds ``core`` and ``alloc`` for the
  target itself (``-Zbuild-std``, which stable cargo allows with
  ``RUSTC_BOOTSTRAP=1``), using the crates Debian vendors next to the sources.
  A crate that uses ``std`` (as Teaclave's payloads do) gets std built the
  same way, once (:mod:`teabox.toolchain.rust_std`).

Either way the module is linked by the LLD that ships inside the ``ziglang``
package, so no separate linker has to be installed. Teaclave's crates declare
the host functions in a plain ``extern "C"`` block, which leaves them
undefined at link time; the link lets exactly those five stay undefined (they
become imports from ``env``) and still fails on any other undefined symbol.
"""

from __future__ import annotations

import fcntl
import functools
import os
import re
import shlex
import shutil
import stat
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from teabox import config
from teabox.abi.check import HOST_FUNCTIONS
from teabox.executor.cache import default_cache_dir
from teabox.toolchain.backend import Compiled, existing_unique, parse_make_dependencies
from teabox.toolchain.diagnostics import link_fixes, link_summary, undefined_symbols
from teabox.toolchain.errors import BuildError, ToolchainMissing
from teabox.toolchain.options import BuildOptions
from teabox.toolchain.process import ZIG, ToolRun, run_tool
from teabox.toolchain.rust_std import STD_MISSING, ensure_std, needs_std
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
        config.RUSTC.get(),
        "/usr/bin/rustc",
        shutil.which("rustc"),
        str(Path.home() / ".cargo" / "bin" / "rustc"),
    ]
    return list(dict.fromkeys(Path(p) for p in found if p and Path(p).is_file()))


def cargo_target_root() -> Path:
    """Where cargo keeps what it compiled (the wasm32 std among it): ``$TEABOX_CARGO_TARGET_DIR``,
    else ``cargo-target`` in teabox's cache. Only cargo reads it, and it can outlive (and be
    shared by) build caches: cargo checks each dependency against its sources and flags, and
    the payload's own crate is always compiled again (see :func:`_forget_package`)."""
    configured = config.CARGO_TARGET_DIR.get()
    return Path(configured) if configured else default_cache_dir() / "cargo-target"


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


def _write_if_changed(path: Path, text: str, mode: int) -> None:
    if not path.is_file() or path.read_text() != text:
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        temporary.write_text(text)
        temporary.chmod(mode)
        os.replace(temporary, path)


def _linker_wrapper() -> Path:
    """A linker program for cargo that runs zig's wasm-ld (cargo wants one executable path, not a command).

    It lets the five host functions, and nothing else, stay undefined: a crate
    that declares them without ``#[link(wasm_import_module = "env")]`` (as
    Teaclave's do) then imports them from ``env``, where the host provides them.
    It lives beside cargo's artifacts: cargo passes the linker's path to every
    unit it compiles, std included, so the path must not change while they live.
    """
    directory = cargo_target_root()
    directory.mkdir(parents=True, exist_ok=True)
    allowed = directory / "host-functions.txt"
    _write_if_changed(allowed, "".join(f"{name}\n" for name in HOST_FUNCTIONS), stat.S_IRUSR | stat.S_IWUSR)
    wrapper = directory / "zig-wasm-ld"
    # rustc calls its linker as `rust-lld -flavor wasm ...`; wasm-ld itself takes no flavor.
    script = (
        '#!/bin/sh\nif [ "$1" = "-flavor" ]; then shift 2; fi\n'
        f'exec {shlex.join(ZIG)} wasm-ld {shlex.quote(f"--allow-undefined-file={allowed}")} "$@"\n'
    )
    _write_if_changed(wrapper, script, stat.S_IRWXU)
    return wrapper


def _manifest(crate: Path) -> dict[str, Any]:
    manifest = crate / "Cargo.toml"
    try:
        return tomllib.loads(manifest.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise BuildError(f"{manifest} is not valid TOML: {exc}") from exc


def _crate_root(crate: Path, manifest: dict[str, Any]) -> Path:
    return crate / str(manifest.get("lib", {}).get("path") or "src/lib.rs")


def _forget_package(release: Path, package: str) -> None:
    """Make cargo compile the payload's own crate, however old its files are.

    Cargo names its record of a path package's last build by the package's name and
    version and its place *within its workspace*, and calls the package fresh when its
    files are older than that build. Two crates of the same name in different folders
    share the record, so the second would be handed the first one's module. Forgetting
    the record costs one compile of the crate itself (its dependencies, std among them,
    stay built); teabox's build cache already skips cargo when no source changed.
    """
    record = re.compile(re.escape(package) + r"-[0-9a-f]{16}")
    fingerprints = release / ".fingerprint"
    if fingerprints.is_dir():
        for entry in fingerprints.iterdir():
            if record.fullmatch(entry.name):
                shutil.rmtree(entry)


def _library_name(crate: Path, data: dict[str, Any]) -> str:
    """The cdylib's artifact name; refuse a crate that cannot produce a wasm module."""
    manifest = crate / "Cargo.toml"
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


def _summary(crate: Path, output: str) -> str:
    summary = f"building crate {crate.name} failed"
    return f"{summary}: {link_summary(output)}" if undefined_symbols(output) else summary


def _fixes(output: str) -> list[str]:
    fixes = link_fixes(output)
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

    def _command(
        self, toolchain: RustToolchain, manifest: Path, options: BuildOptions, target_dir: Path, *, std: bool
    ) -> list[str]:
        opt = '"z"' if options.size else "3"
        command = [
            str(toolchain.cargo),
            "build",
            "--release",
            f"--target={TARGET}",
            f"--manifest-path={manifest}",
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
            command += ["-Zbuild-std=std,panic_abort" if std else "-Zbuild-std=core,alloc"]
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

    def _cargo(
        self,
        toolchain: RustToolchain,
        crate: Path,
        options: BuildOptions,
        target_dir: Path,
        env: dict[str, str],
        *,
        std: bool,
    ) -> ToolRun:
        if std and toolchain.library_sources is not None:
            ensure_std(
                lambda manifest: self._command(toolchain, manifest, options, target_dir, std=True),
                env,
                target_dir,
                f"{self.fingerprint()}\n{self.recipe(options)}",
                toolchain.library_sources,
            )
        return run_tool(
            self._command(toolchain, crate / "Cargo.toml", options, target_dir, std=std), cwd=crate, env=env
        )

    def compile(self, sources: SourceSet, options: BuildOptions, workdir: Path) -> Compiled:
        (crate,) = sources.paths
        toolchain = find_toolchain()
        manifest = _manifest(crate)
        name = _library_name(crate, manifest)
        std = needs_std(_crate_root(crate, manifest))
        # One target directory per flavour, shared by all crates, so core, alloc
        # and std are compiled once per flavour rather than once per payload.
        flavour = f"{'size' if options.size else 'speed'}-{'simd' if options.simd else 'nosimd'}"
        target_dir = cargo_target_root() / flavour
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
            release = target_dir / TARGET / "release"
            if package := manifest.get("package", {}).get("name"):
                _forget_package(release, str(package))
            run = self._cargo(toolchain, crate, options, target_dir, env, std=std)
            if not run.ok and not std and STD_MISSING in run.output:
                # The root is no_std but a dependency (Teaclave's teaclave_context, say) uses std.
                run = self._cargo(toolchain, crate, options, target_dir, env, std=True)
            if not run.ok:
                raise BuildError(_summary(crate, run.output), output=run.output, fixes=_fixes(run.output))
            wasm = (release / f"{name}.wasm").read_bytes()
            depfile = release / f"{name}.d"
            dependencies = parse_make_dependencies(depfile.read_text()) if depfile.is_file() else []
        return Compiled(wasm, existing_unique([*self.key_files(sources), *dependencies]), run.output)
