//! Checksum a file: CRC-32 (the one zlib, gzip and PNG use) and its length.
//!
//! Arguments (each optional; the default is shown):
//!   input   data name of the file to checksum   (input)
//!   output  data name of the report             (output)
//! The output is "crc32 <8 hex digits>\nbytes <length>\n". The result is the
//! CRC as a signed 32-bit number. Errors: the negative codes of teabox.exitCode.

const std = @import("std");
const teabox = @import("teabox");

fn run(args: teabox.Args) teabox.Error!i32 {
    const input = try teabox.Input.open(args.getOr("input", "input"));
    defer input.close();

    var crc = std.hash.Crc32.init();
    var length: u64 = 0;
    var chunk: [64 * 1024]u8 = undefined;
    while (true) {
        const n = try input.read(&chunk);
        if (n == 0) break;
        crc.update(chunk[0..n]);
        length += n;
    }
    const sum = crc.final();

    const output = try teabox.Output.create(args.getOr("output", "output"));
    defer output.close();
    var scratch: [64]u8 = undefined;
    try output.print(&scratch, "crc32 {x:0>8}\nbytes {d}\n", .{ sum, length });
    return @bitCast(sum);
}

export fn entrypoint(argc: i32, argv: [*]const [*:0]const u8) i32 {
    return run(teabox.Args.init(argc, argv)) catch |err| teabox.exitCode(err);
}
