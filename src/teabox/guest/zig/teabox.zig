//! The guest SDK for Zig payloads: `const teabox = @import("teabox");`
//! (`teabox build` makes the module available under that name).
//!
//! It wraps the five host functions so that a payload handles errors as Zig
//! errors instead of checking for -1, and looks arguments up by key instead
//! of by position.

const std = @import("std");

/// The host functions, exactly as the host provides them (module "env").
pub const host = struct {
    pub extern "env" fn teaclave_open_input(fid: [*:0]const u8) i32;
    pub extern "env" fn teaclave_create_output(fid: [*:0]const u8) i32;
    pub extern "env" fn teaclave_read_file(fd: i32, buf: [*]u8, size: i32) i32;
    pub extern "env" fn teaclave_write_file(fd: i32, buf: [*]const u8, size: i32) i32;
    pub extern "env" fn teaclave_close_file(fd: i32) i32;
};

pub const Error = error{
    /// No input is bound to that data name (or the handle limit was reached).
    InputNotFound,
    /// No output is bound to that data name (or the handle limit was reached).
    OutputNotCreated,
    ReadFailed,
    WriteFailed,
    /// The input is larger than the buffer given to `readAll`.
    InputTooLarge,
    /// `print` produced more text than its buffer holds.
    FormatTooLong,
};

/// The value `entrypoint` should return for an error: distinct negative codes
/// that a task's owner can tell apart in the run's result.
pub fn exitCode(err: Error) i32 {
    return switch (err) {
        error.InputNotFound => -1,
        error.OutputNotCreated => -2,
        error.ReadFailed => -3,
        error.WriteFailed => -4,
        error.InputTooLarge => -5,
        error.FormatTooLong => -6,
    };
}

/// The task's arguments: argv holds key/value pairs sorted by key.
pub const Args = struct {
    argv: []const [*:0]const u8,

    pub fn init(argc: i32, argv: [*]const [*:0]const u8) Args {
        return .{ .argv = argv[0..@intCast(@max(argc, 0))] };
    }

    /// The value of argument `key`, or null if the task has none.
    pub fn get(self: Args, key: []const u8) ?[:0]const u8 {
        var i: usize = 0;
        while (i + 1 < self.argv.len) : (i += 2) {
            if (std.mem.eql(u8, std.mem.span(self.argv[i]), key)) return std.mem.span(self.argv[i + 1]);
        }
        return null;
    }

    /// The value of argument `key`, or `fallback` if the task has none.
    pub fn getOr(self: Args, key: []const u8, fallback: [:0]const u8) [:0]const u8 {
        return self.get(key) orelse fallback;
    }
};

fn clampedLen(len: usize) i32 {
    return @intCast(@min(len, @as(usize, std.math.maxInt(i32))));
}

/// A reader over one input. Close it with `defer input.close();`.
pub const Input = struct {
    fd: i32,

    pub fn open(name: [*:0]const u8) Error!Input {
        const fd = host.teaclave_open_input(name);
        if (fd < 0) return error.InputNotFound;
        return .{ .fd = fd };
    }

    /// Read up to `buf.len` bytes; 0 means end of file.
    pub fn read(self: Input, buf: []u8) Error!usize {
        const n = host.teaclave_read_file(self.fd, buf.ptr, clampedLen(buf.len));
        if (n < 0) return error.ReadFailed;
        return @intCast(n);
    }

    /// Read the whole input into `buf` and return the part filled.
    pub fn readAll(self: Input, buf: []u8) Error![]u8 {
        var total: usize = 0;
        while (total < buf.len) {
            const n = try self.read(buf[total..]);
            if (n == 0) return buf[0..total];
            total += n;
        }
        var probe: [1]u8 = undefined;
        if (try self.read(&probe) != 0) return error.InputTooLarge;
        return buf[0..total];
    }

    pub fn close(self: Input) void {
        _ = host.teaclave_close_file(self.fd);
    }
};

/// A writer to one output. Close it with `defer output.close();`.
pub const Output = struct {
    fd: i32,

    pub fn create(name: [*:0]const u8) Error!Output {
        const fd = host.teaclave_create_output(name);
        if (fd < 0) return error.OutputNotCreated;
        return .{ .fd = fd };
    }

    pub fn writeAll(self: Output, bytes: []const u8) Error!void {
        var rest = bytes;
        while (rest.len > 0) {
            const n = host.teaclave_write_file(self.fd, rest.ptr, clampedLen(rest.len));
            if (n <= 0) return error.WriteFailed;
            rest = rest[@intCast(n)..];
        }
    }

    /// Format into `scratch` (std.fmt syntax) and write the result.
    pub fn print(self: Output, scratch: []u8, comptime fmt: []const u8, args: anytype) Error!void {
        const text = std.fmt.bufPrint(scratch, fmt, args) catch return error.FormatTooLong;
        try self.writeAll(text);
    }

    pub fn close(self: Output) void {
        _ = host.teaclave_close_file(self.fd);
    }
};
