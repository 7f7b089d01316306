"""``teabox build`` and ``teabox sdk-path``: turn sources into a checked payload, and find the guest SDK."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from teabox.toolchain import (
    GUEST_DIR,
    INCLUDE_DIR,
    RUST_CRATE,
    ZIG_MODULE,
    BuildError,
    BuildResult,
    ToolchainMissing,
    build,
)

EXIT_BUILD_FAILED = 1
EXIT_TOOLCHAIN_MISSING = 3


def _default_output(source: Path) -> Path:
    source = source.resolve()
    name = source.parent.name if source.name == "Cargo.toml" else source.name if source.is_dir() else source.stem
    return Path(f"{name}.wasm")


def _describe(result: BuildResult) -> list[str]:
    report = result.report
    how = "from cache" if result.cached else f"in {result.seconds:.2f}s"
    flavour = f"{result.options.goal}{', simd' if result.options.simd else ''}"
    lines = [
        f"built {result.path} ({result.language.value}, optimised for {flavour}) {how}",
        f"  size    {report.size} bytes, sha256 {report.sha256}",
    ]
    lines += [f"  import  {imp.module}.{imp.name} {imp.type or imp.kind}" for imp in report.imports] or [
        "  import  (none)"
    ]
    lines += [f"  export  {exp.name} {exp.type or exp.kind}" for exp in report.exports]
    if report.memory is not None:
        maximum = report.memory.max_pages if report.memory.max_pages is not None else "no maximum"
        lines.append(f"  memory  {report.memory.min_pages} pages of 64 KiB at start, {maximum}")
    lines.append("  valid teabox payload")
    return lines


@click.command("build")
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the module (default: NAME.wasm in the current directory).",
)
@click.option("--size", is_flag=True, help="Optimise for a small module instead of speed.")
@click.option("--no-simd", "no_simd", is_flag=True, help="Do not vectorise (for engines without wasm SIMD).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def build_command(sources: tuple[Path, ...], output: Path | None, size: bool, no_simd: bool, as_json: bool) -> None:
    """Build a payload from C (.c), C++ (.cc/.cpp), Zig (.zig) or a Rust crate directory.

    The module exports `entrypoint` and its memory, imports only the five
    teaclave_* host functions, and is checked before it is written.
    Rebuilding unchanged sources is served from the build cache.
    """
    try:
        result = build(
            sources,
            output or _default_output(sources[0]),
            size=size,
            simd=not no_simd,
            on_first_build=lambda note: click.echo(f"first build of its kind: {note} ...", err=True),
        )
    except BuildError as exc:
        click.echo(f"error: {exc.summary}", err=True)
        if exc.output:
            click.echo(exc.output, err=True)
        for fix in exc.fixes:
            click.echo(f"fix: {fix}", err=True)
        sys.exit(EXIT_TOOLCHAIN_MISSING if isinstance(exc, ToolchainMissing) else EXIT_BUILD_FAILED)
    if "warning" in result.log:
        click.echo(result.log.rstrip(), err=True)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "output": str(result.path),
                    "cached": result.cached,
                    "language": result.language.value,
                    "goal": result.options.goal,
                    "simd": result.options.simd,
                    "seconds": result.seconds,
                    "report": result.report.to_dict(),
                },
                indent=2,
            )
        )
    else:
        click.echo("\n".join(_describe(result)))


@click.command("sdk-path")
@click.option("--include", is_flag=True, help="The C/C++ include directory (teabox.h, teaclave_context.h).")
@click.option("--zig", is_flag=True, help="The Zig module teabox.zig.")
@click.option("--rust", is_flag=True, help="The Rust crate teabox-guest (for a Cargo path dependency).")
def sdk_path_command(include: bool, zig: bool, rust: bool) -> None:
    """Print where the guest SDK shipped with teabox is (default: its root directory)."""
    chosen = [path for flag, path in ((include, INCLUDE_DIR), (zig, ZIG_MODULE), (rust, RUST_CRATE)) if flag]
    if len(chosen) > 1:
        raise click.UsageError("choose at most one of --include, --zig and --rust")
    click.echo(str(chosen[0] if chosen else GUEST_DIR))
