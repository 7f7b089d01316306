//! The task's arguments, as the host lays them out: key/value pairs sorted by key.

use core::ffi::CStr;

#[derive(Clone, Copy)]
pub struct Args {
    argv: &'static [*const u8],
}

impl Args {
    /// # Safety
    /// `argv` must point to `argc` pointers to NUL-terminated strings that stay
    /// valid for the rest of the run, which is what the host passes to `entrypoint`.
    pub unsafe fn from_raw(argc: i32, argv: *const *const u8) -> Args {
        let len = usize::try_from(argc).unwrap_or(0);
        let argv = if argv.is_null() || len == 0 { &[][..] } else { unsafe { core::slice::from_raw_parts(argv, len) } };
        Args { argv }
    }

    fn entry(&self, index: usize) -> &'static CStr {
        // SAFETY: guaranteed by `from_raw`'s contract.
        unsafe { CStr::from_ptr(self.argv[index].cast()) }
    }

    /// Number of key/value pairs.
    pub fn len(&self) -> usize {
        self.argv.len() / 2
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The pairs in argv order (sorted by key).
    pub fn iter(&self) -> impl Iterator<Item = (&'static CStr, &'static CStr)> + '_ {
        (0..self.len()).map(move |i| (self.entry(2 * i), self.entry(2 * i + 1)))
    }

    /// The value of argument `key`, as a C string (ready to pass to [`crate::Input::open`]).
    pub fn get(&self, key: &str) -> Option<&'static CStr> {
        self.iter().find(|(k, _)| k.to_bytes() == key.as_bytes()).map(|(_, v)| v)
    }

    /// The value of argument `key` as UTF-8 text; `None` if absent or not UTF-8.
    pub fn get_str(&self, key: &str) -> Option<&'static str> {
        self.get(key).and_then(|v| v.to_str().ok())
    }

    /// The value of argument `key`, or `fallback` if the task has none.
    pub fn get_or(&self, key: &str, fallback: &'static CStr) -> &'static CStr {
        self.get(key).unwrap_or(fallback)
    }
}
