"""A reader for the parts of a WebAssembly binary that the ABI check needs.

Compiling an untrusted module just to list its imports would run the
compiler on hostile input before we know it is worth it, so the import, export,
type, function and memory sections are decoded here directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

WASM_MAGIC = b"\0asm"
WASM_VERSION = b"\x01\0\0\0"

VALUE_TYPES = {
    0x7F: "i32",
    0x7E: "i64",
    0x7D: "f32",
    0x7C: "f64",
    0x7B: "v128",
    0x70: "funcref",
    0x6F: "externref",
}
KINDS = {0: "func", 1: "table", 2: "memory", 3: "global", 4: "tag"}


class MalformedModule(ValueError):
    """The bytes are not a well-formed WebAssembly binary."""


@dataclass(frozen=True)
class FuncType:
    params: tuple[str, ...]
    results: tuple[str, ...]

    def __str__(self) -> str:
        return f"({', '.join(self.params)}) -> ({', '.join(self.results)})"


@dataclass(frozen=True)
class MemoryType:
    min_pages: int
    max_pages: int | None
    shared: bool = False
    memory64: bool = False


@dataclass(frozen=True)
class Import:
    module: str
    name: str
    kind: str
    func_type: FuncType | None = None
    memory: MemoryType | None = None


@dataclass(frozen=True)
class Export:
    name: str
    kind: str
    index: int


@dataclass
class ModuleLayout:
    types: list[FuncType | None] = field(default_factory=list)
    imports: list[Import] = field(default_factory=list)
    function_types: list[int] = field(default_factory=list)
    memories: list[MemoryType] = field(default_factory=list)
    exports: list[Export] = field(default_factory=list)

    def function_type(self, index: int) -> FuncType | None:
        """The type of function ``index`` in the function index space (imports first)."""
        imported = [imp for imp in self.imports if imp.kind == "func"]
        if index < len(imported):
            return imported[index].func_type
        local = index - len(imported)
        if 0 <= local < len(self.function_types):
            type_index = self.function_types[local]
            if type_index < len(self.types):
                return self.types[type_index]
        return None

    def memory_type(self, index: int) -> MemoryType | None:
        imported = [imp.memory for imp in self.imports if imp.kind == "memory"]
        all_memories = imported + self.memories
        return all_memories[index] if 0 <= index < len(all_memories) else None


class _Reader:
    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    def byte(self) -> int:
        if self.pos >= self.end:
            raise MalformedModule(f"unexpected end of data at offset {self.pos}")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def uleb(self) -> int:
        result = shift = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
            if shift > 63:
                raise MalformedModule(f"LEB128 integer too long at offset {self.pos}")

    def bytes(self, n: int) -> bytes:
        if self.pos + n > self.end:
            raise MalformedModule(f"unexpected end of data at offset {self.pos}")
        value = self.data[self.pos : self.pos + n]
        self.pos += n
        return value

    def name(self) -> str:
        raw = self.bytes(self.uleb())
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedModule(f"name is not UTF-8 at offset {self.pos}") from exc

    def value_type(self) -> str:
        code = self.byte()
        if code in (0x63, 0x64):  # (ref null? heaptype)
            self.uleb()
            return "ref"
        if code not in VALUE_TYPES:
            raise MalformedModule(f"unknown value type 0x{code:02x} at offset {self.pos - 1}")
        return VALUE_TYPES[code]

    def limits(self) -> MemoryType:
        flags = self.byte()
        minimum = self.uleb()
        maximum = self.uleb() if flags & 0x01 else None
        if flags & 0x08:  # custom page size: log2 of the page size follows
            self.uleb()
        return MemoryType(minimum, maximum, shared=bool(flags & 0x02), memory64=bool(flags & 0x04))


def _read_types(r: _Reader, layout: ModuleLayout) -> None:
    for _ in range(r.uleb()):
        form = r.byte()
        if form != 0x60:
            # GC-proposal type forms (rec groups, subtypes) never occur in
            # payloads built for this ABI.
            raise MalformedModule(f"unsupported type form 0x{form:02x} (only function types are allowed)")
        params = tuple(r.value_type() for _ in range(r.uleb()))
        results = tuple(r.value_type() for _ in range(r.uleb()))
        layout.types.append(FuncType(params, results))


def _read_imports(r: _Reader, layout: ModuleLayout) -> None:
    for _ in range(r.uleb()):
        module, name = r.name(), r.name()
        kind_code = r.byte()
        kind = KINDS.get(kind_code)
        if kind is None:
            raise MalformedModule(f"unknown import kind 0x{kind_code:02x} for {module}.{name}")
        func_type = memory = None
        if kind == "func":
            index = r.uleb()
            func_type = layout.types[index] if index < len(layout.types) else None
        elif kind == "table":
            r.value_type()
            r.limits()
        elif kind == "memory":
            memory = r.limits()
        elif kind == "global":
            r.value_type()
            r.byte()
        else:  # tag
            r.byte()
            r.uleb()
        layout.imports.append(Import(module, name, kind, func_type, memory))


def _read_functions(r: _Reader, layout: ModuleLayout) -> None:
    layout.function_types.extend(r.uleb() for _ in range(r.uleb()))


def _read_memories(r: _Reader, layout: ModuleLayout) -> None:
    layout.memories.extend(r.limits() for _ in range(r.uleb()))


def _read_exports(r: _Reader, layout: ModuleLayout) -> None:
    for _ in range(r.uleb()):
        name = r.name()
        kind_code = r.byte()
        layout.exports.append(Export(name, KINDS.get(kind_code, f"unknown(0x{kind_code:02x})"), r.uleb()))


_SECTION_READERS = {1: _read_types, 2: _read_imports, 3: _read_functions, 5: _read_memories, 7: _read_exports}


def read_layout(data: bytes) -> ModuleLayout:
    """Decode the sections the ABI check needs; raise :class:`MalformedModule` otherwise."""
    if data[:4] != WASM_MAGIC:
        raise MalformedModule("not a WebAssembly module (missing the \\0asm magic number)")
    if data[4:8] != WASM_VERSION:
        if len(data) >= 8 and data[6:8] == b"\x01\x00":
            raise MalformedModule("this is a WebAssembly component, not a core module")
        raise MalformedModule(f"unsupported WebAssembly binary version {data[4:8].hex() or '(missing)'}")
    layout = ModuleLayout()
    r = _Reader(data, 8)
    while r.pos < r.end:
        section_id = r.byte()
        size = r.uleb()
        start = r.pos
        if start + size > r.end:
            raise MalformedModule(f"section {section_id} runs past the end of the module")
        reader = _SECTION_READERS.get(section_id)
        if reader is not None:
            sub = _Reader(data, start, start + size)
            reader(sub, layout)
        r.pos = start + size
    return layout
