//! Private set intersection: two parties each hold a list of items, one per
//! line; each learns which items both hold, and nothing else.
//!
//! Arguments (all optional; the defaults are the data names shown):
//!   input1 / input2   data names of the two parties' lists      (input1, input2)
//!   output1 / output2 data names of the results, one per party  (output1, output2)
//! Both outputs get the common lines, sorted, one per line. The result is
//! the number of common lines.
#![no_std]

extern crate alloc;

use alloc::vec::Vec;
use teabox_guest::{entrypoint, Args, Error, Input, Output};

/// The distinct non-empty lines of `data`, sorted (a trailing `\r` is not part of a line).
fn sorted_lines(data: &[u8]) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = data
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .filter(|line| !line.is_empty())
        .collect();
    lines.sort_unstable();
    lines.dedup();
    lines
}

/// The items of two sorted, distinct lists that appear in both, in order.
fn intersect<'a>(a: &[&'a [u8]], b: &[&[u8]]) -> Vec<&'a [u8]> {
    let (mut i, mut j) = (0, 0);
    let mut common = Vec::new();
    while i < a.len() && j < b.len() {
        match a[i].cmp(b[j]) {
            core::cmp::Ordering::Less => i += 1,
            core::cmp::Ordering::Greater => j += 1,
            core::cmp::Ordering::Equal => {
                common.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    common
}

fn run(args: Args) -> Result<i32, Error> {
    let first = Input::open(args.get_or("input1", c"input1"))?.read_to_vec()?;
    let second = Input::open(args.get_or("input2", c"input2"))?.read_to_vec()?;
    let common = intersect(&sorted_lines(&first), &sorted_lines(&second));
    for name in [args.get_or("output1", c"output1"), args.get_or("output2", c"output2")] {
        let mut output = Output::create(name)?;
        for line in &common {
            output.write_all(line)?;
            output.write_all(b"\n")?;
        }
    }
    i32::try_from(common.len()).map_err(|_| Error::InvalidData)
}

entrypoint!(run);
