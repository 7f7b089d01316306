//! The guest SDK for Rust payloads run by teabox.
//!
//! A payload is a `#![no_std]` cdylib exporting `entrypoint`. This crate
//! wraps the five host functions: [`Input`] and [`Output`] close their handle
//! when dropped and turn the host's `-1` into an [`Error`]; [`Args`] looks
//! arguments up by key; [`entrypoint!`] writes the export. With the default
//! `panic-handler` feature a panic traps, which teabox reports as a failed run;
//! the `allocator` feature gives `alloc` (Vec, String, sorting) a heap.
#![no_std]

#[cfg(feature = "allocator")]
extern crate alloc;

#[cfg(feature = "allocator")]
mod allocator;
mod args;
mod files;

pub use args::Args;
pub use files::{Error, Input, Output};

/// The raw host functions, as the host provides them (module `env`).
pub mod ffi {
    #[link(wasm_import_module = "env")]
    extern "C" {
        pub fn teaclave_open_input(fid: *const u8) -> i32;
        pub fn teaclave_create_output(fid: *const u8) -> i32;
        pub fn teaclave_read_file(fd: i32, buf: *mut u8, size: i32) -> i32;
        pub fn teaclave_write_file(fd: i32, buf: *const u8, size: i32) -> i32;
        pub fn teaclave_close_file(fd: i32) -> i32;
    }
}

#[cfg(all(feature = "panic-handler", target_arch = "wasm32"))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

/// Export `entrypoint` calling `$run(args: Args) -> Result<i32, Error>`.
///
/// `Ok(n)` becomes the run's result `n`; an error becomes its negative
/// [`Error::code`], so the task owner can tell which step failed.
#[macro_export]
macro_rules! entrypoint {
    ($run:path) => {
        #[no_mangle]
        pub unsafe extern "C" fn entrypoint(argc: i32, argv: *const *const u8) -> i32 {
            // SAFETY: the host passes argc NUL-terminated strings that live for the whole run.
            let args = unsafe { $crate::Args::from_raw(argc, argv) };
            match $run(args) {
                Ok(value) => value,
                Err(error) => $crate::Error::code(&error),
            }
        }
    };
}
