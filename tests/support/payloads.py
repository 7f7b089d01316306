"""Payloads from WebAssembly text for the worker and service tests: copy inputs to outputs, spin, never end."""

from __future__ import annotations

import wasmtime

from support.wat_imports import HOST_IMPORTS

_IMPORTS = HOST_IMPORTS


def concat_payload(inputs: list[str], outputs: list[str]) -> bytes:
    """Writes the concatenation of ``inputs`` to each of ``outputs``; returns the bytes read."""
    names: dict[str, int] = {}
    data = []
    offset = 0
    for name in inputs + outputs:
        names[name] = offset
        data.append(f'(data (i32.const {offset}) "{name}\\00")')
        offset += len(name.encode()) + 1
    buffer = 4096
    body = []
    for name in outputs:
        body.append(f"(local.set $fd (call $create (i32.const {names[name]})))")
        body.append("(call $write_inputs (local.get $fd))")
        body.append("(drop (call $close (local.get $fd)))")
    copy_inputs = "\n".join(
        f"""(local.set $in (call $open (i32.const {names[name]})))
            (block $done{i} (loop $next{i}
              (local.set $n (call $read (local.get $in) (i32.const {buffer}) (i32.const 4096)))
              (br_if $done{i} (i32.le_s (local.get $n) (i32.const 0)))
              (drop (call $write (local.get $out) (i32.const {buffer}) (local.get $n)))
              (global.set $total (i32.add (global.get $total) (local.get $n)))
              (br $next{i})))
            (drop (call $close (local.get $in)))"""
        for i, name in enumerate(inputs)
    )
    text = f"""(module {_IMPORTS}
      (memory (export "memory") 1)
      (global $total (mut i32) (i32.const 0))
      {" ".join(data)}
      (func $write_inputs (param $out i32) (local $in i32) (local $n i32)
        {copy_inputs})
      (func (export "entrypoint") (param i32 i32) (result i32) (local $fd i32)
        {" ".join(body)}
        (global.get $total)))"""
    return bytes(wasmtime.wat2wasm(text))


def endless_payload() -> bytes:
    """Never returns: only a limit, a cancel or a kill stops it."""
    return bytes(
        wasmtime.wat2wasm(
            f"""(module {_IMPORTS}
          (memory (export "memory") 1)
          (func (export "entrypoint") (param i32 i32) (result i32)
            (loop $forever (br $forever))
            (i32.const 0)))"""
        )
    )


def spin_payload(iterations: int = 4_000_000_000, output: str | None = None) -> bytes:
    """Busy for a few seconds, then (optionally) writes ``ok`` to ``output`` and returns 7."""
    write = (
        """(local.set $fd (call $create (i32.const 16)))
            (drop (call $write (local.get $fd) (i32.const 32) (i32.const 2)))
            (drop (call $close (local.get $fd)))"""
        if output
        else ""
    )
    return bytes(
        wasmtime.wat2wasm(
            f"""(module {_IMPORTS}
          (memory (export "memory") 1)
          (data (i32.const 16) "{output or ""}\\00")
          (data (i32.const 32) "ok")
          (func (export "entrypoint") (param i32 i32) (result i32) (local $i i32) (local $fd i32)
            (loop $l
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (i32.store (i32.const 0) (local.get $i))
              (br_if $l (i32.lt_u (local.get $i) (i32.const {iterations}))))
            {write}
            (i32.const 7)))"""
        )
    )
