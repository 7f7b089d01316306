"""The five host-function imports, for payloads the tests write in WebAssembly text."""

HOST_IMPORTS = """
 (import "env" "teaclave_open_input" (func $open (param i32) (result i32)))
 (import "env" "teaclave_create_output" (func $create (param i32) (result i32)))
 (import "env" "teaclave_read_file" (func $read (param i32 i32 i32) (result i32)))
 (import "env" "teaclave_write_file" (func $write (param i32 i32 i32) (result i32)))
 (import "env" "teaclave_close_file" (func $close (param i32) (result i32)))
"""
