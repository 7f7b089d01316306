/*
 * teaclave_context.h: the five host functions a teabox payload may call.
 *
 * Payloads written for Apache Teaclave's WebAssembly executor include this
 * header under this name and compile unchanged. It declares nothing else on
 * purpose: such payloads often define their own strlen, atoi or memset, with
 * their own signatures, and any declaration here could clash with them.
 *
 * Each function is bound to its import (module "env") explicitly, so the
 * linker never has to be told to leave symbols undefined: a call to any other
 * undefined function is a link error that names it, not an import that traps
 * when the payload runs.
 *
 * All five return -1 on error (unknown data name, wrong or closed handle,
 * handle limit reached); read returns 0 at end of file.
 */
#ifndef TEACLAVE_CONTEXT_H
#define TEACLAVE_CONTEXT_H

#if defined(__wasm__)
#define TEACLAVE_HOST_IMPORT(name) __attribute__((import_module("env"), import_name(#name)))
#else
#define TEACLAVE_HOST_IMPORT(name)
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Open the input bound to data name `file_id`; returns a read handle or -1. */
TEACLAVE_HOST_IMPORT(teaclave_open_input)
int teaclave_open_input(const char *file_id);

/* Create (or truncate) the output bound to data name `file_id`; returns a write handle or -1. */
TEACLAVE_HOST_IMPORT(teaclave_create_output)
int teaclave_create_output(const char *file_id);

/* Read up to `size` bytes into `buf`; returns the count, 0 at end of file, or -1. */
TEACLAVE_HOST_IMPORT(teaclave_read_file)
int teaclave_read_file(int fd, void *buf, int size);

/* Write `size` bytes from `buf`; returns `size` or -1. */
TEACLAVE_HOST_IMPORT(teaclave_write_file)
int teaclave_write_file(int fd, const void *buf, int size);

/* Close a handle; returns 0 or -1. */
TEACLAVE_HOST_IMPORT(teaclave_close_file)
int teaclave_close_file(int fd);

#ifdef __cplusplus
}
#endif

#undef TEACLAVE_HOST_IMPORT

#endif /* TEACLAVE_CONTEXT_H */
