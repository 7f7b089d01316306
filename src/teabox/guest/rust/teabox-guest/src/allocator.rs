//! A bump allocator over pages the module grows itself.
//!
//! A run is short and single-threaded, so never reusing freed memory is the
//! simplest correct choice (memory is bounded by the run's memory limit).
//! It only hands out pages obtained from `memory.grow`, never memory the host
//! may have written (the host places argv above the initial memory).

use core::alloc::{GlobalAlloc, Layout};
use core::cell::Cell;

const PAGE: usize = 65536;

struct Bump {
    next: Cell<usize>,
    end: Cell<usize>,
}

// SAFETY: payloads run single-threaded.
unsafe impl Sync for Bump {}

unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let start = (self.next.get() + layout.align() - 1) & !(layout.align() - 1);
        let Some(end) = start.checked_add(layout.size()) else { return core::ptr::null_mut() };
        if end > self.end.get() {
            let pages = (layout.size() + layout.align()).div_ceil(PAGE).max(16);
            let previous = core::arch::wasm32::memory_grow(0, pages);
            if previous == usize::MAX {
                return core::ptr::null_mut();
            }
            let base = previous * PAGE;
            self.next.set(base);
            self.end.set(base + pages * PAGE);
            return unsafe { self.alloc(layout) };
        }
        self.next.set(end);
        start as *mut u8
    }

    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}
}

#[global_allocator]
static ALLOCATOR: Bump = Bump { next: Cell::new(0), end: Cell::new(0) };
