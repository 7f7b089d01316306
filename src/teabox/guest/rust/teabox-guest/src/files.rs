//! Inputs and outputs as owned handles: they close when dropped, and the
//! host's `-1` becomes an [`Error`] saying which operation failed.

use core::ffi::CStr;
use core::fmt;

use crate::ffi;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// No input is bound to that data name (or the handle limit was reached).
    InputNotFound,
    /// No output is bound to that data name (or the handle limit was reached).
    OutputNotCreated,
    ReadFailed,
    /// The host refused the bytes (for example the output limit was reached).
    WriteFailed,
    /// The input is larger than the buffer given to [`Input::read_all`].
    InputTooLarge,
    /// The payload's own data was malformed (for its own use).
    InvalidData,
}

impl Error {
    /// The value `entrypoint` returns for this error (distinct negative numbers).
    pub fn code(&self) -> i32 {
        match self {
            Error::InputNotFound => -1,
            Error::OutputNotCreated => -2,
            Error::ReadFailed => -3,
            Error::WriteFailed => -4,
            Error::InputTooLarge => -5,
            Error::InvalidData => -6,
        }
    }
}

fn clamped(len: usize) -> i32 {
    i32::try_from(len).unwrap_or(i32::MAX)
}

/// A reader over one input.
pub struct Input {
    fd: i32,
}

impl Input {
    /// Open the input bound to data name `name` (e.g. `c"input"`, or a value from [`crate::Args::get`]).
    pub fn open(name: &CStr) -> Result<Input, Error> {
        // SAFETY: `name` is NUL-terminated and outlives the call.
        let fd = unsafe { ffi::teaclave_open_input(name.as_ptr().cast()) };
        if fd < 0 {
            return Err(Error::InputNotFound);
        }
        Ok(Input { fd })
    }

    /// Read up to `buf.len()` bytes; `Ok(0)` means end of file.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        // SAFETY: the host writes at most `size` bytes into `buf`.
        let n = unsafe { ffi::teaclave_read_file(self.fd, buf.as_mut_ptr(), clamped(buf.len())) };
        usize::try_from(n).map_err(|_| Error::ReadFailed)
    }

    /// Read the whole input into `buf` and return the filled part.
    pub fn read_all<'b>(&mut self, buf: &'b mut [u8]) -> Result<&'b mut [u8], Error> {
        let mut total = 0;
        while total < buf.len() {
            match self.read(&mut buf[total..])? {
                0 => return Ok(&mut buf[..total]),
                n => total += n,
            }
        }
        if self.read(&mut [0u8; 1])? != 0 {
            return Err(Error::InputTooLarge);
        }
        Ok(&mut buf[..total])
    }

    /// Read the whole input into a vector.
    #[cfg(feature = "allocator")]
    pub fn read_to_vec(&mut self) -> Result<alloc::vec::Vec<u8>, Error> {
        let mut data = alloc::vec::Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            match self.read(&mut chunk)? {
                0 => return Ok(data),
                n => data.extend_from_slice(&chunk[..n]),
            }
        }
    }
}

impl Drop for Input {
    fn drop(&mut self) {
        // SAFETY: closing a handle this value owns; a failure leaves nothing to clean up.
        unsafe { ffi::teaclave_close_file(self.fd) };
    }
}

/// A writer to one output; `write!` works on it too.
pub struct Output {
    fd: i32,
}

impl Output {
    /// Create (or truncate) the output bound to data name `name`.
    pub fn create(name: &CStr) -> Result<Output, Error> {
        // SAFETY: `name` is NUL-terminated and outlives the call.
        let fd = unsafe { ffi::teaclave_create_output(name.as_ptr().cast()) };
        if fd < 0 {
            return Err(Error::OutputNotCreated);
        }
        Ok(Output { fd })
    }

    pub fn write_all(&mut self, mut bytes: &[u8]) -> Result<(), Error> {
        while !bytes.is_empty() {
            // SAFETY: the host reads at most `size` bytes from `bytes`.
            let n = unsafe { ffi::teaclave_write_file(self.fd, bytes.as_ptr(), clamped(bytes.len())) };
            match usize::try_from(n) {
                Ok(written) if written > 0 => bytes = &bytes[written..],
                _ => return Err(Error::WriteFailed),
            }
        }
        Ok(())
    }
}

impl fmt::Write for Output {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.write_all(s.as_bytes()).map_err(|_| fmt::Error)
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        // SAFETY: closing a handle this value owns.
        unsafe { ffi::teaclave_close_file(self.fd) };
    }
}
