"""Face detection without its model: the JPEG decoder against Pillow, and the built-in's refusals.

Tolerance of the decoder: at most 2 grey levels from Pillow's libjpeg on any
pixel and under 0.1 on average, because the IDCT and chroma upsampling
(jpeg-decoder's, which the payload follows) round slightly differently from
libjpeg's.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support.teaclave_fixtures import FIXTURES, needs_fixtures

from teabox.executor import Executor, MemoryInputs, MemoryOutputs
from teabox.toolchain import build

from .conftest import RunBuiltin

PROBE = Path(__file__).with_name("jpeg_probe.c")


def _decode(executor: Executor, tmp_path: Path, jpeg: bytes) -> np.ndarray:
    payload = build([PROBE], tmp_path / "jpeg_probe.wasm").wasm
    outputs = MemoryOutputs(["out"])
    result = executor.run(payload, inputs=MemoryInputs({"in": jpeg}), outputs=outputs)
    assert result.ok, result.failure
    data = outputs.results["out"]
    width, height = struct.unpack("<II", data[:8])
    return np.frombuffer(data[8:], np.uint8).reshape(height, width).astype(int)


def _reference_grey(jpeg: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(jpeg))
    if image.mode == "L":
        return np.asarray(image).astype(int)
    rgb = np.asarray(image.convert("RGB")).astype(np.float32)
    weights = [np.float32(w) for w in (0.2126, 0.7152, 0.0722)]
    return (weights[0] * rgb[..., 0] + weights[1] * rgb[..., 1] + weights[2] * rgb[..., 2]).astype(int)


def _assert_close(got: np.ndarray, expected: np.ndarray) -> None:
    assert got.shape == expected.shape
    difference = np.abs(got - expected)
    assert difference.max() <= 2 and difference.mean() < 0.1


@needs_fixtures
def test_decodes_teaclaves_image(builtin_executor: Executor, tmp_path: Path) -> None:
    jpeg = (FIXTURES / "face_detection" / "input.jpg").read_bytes()
    _assert_close(_decode(builtin_executor, tmp_path, jpeg), _reference_grey(jpeg))


def _synthetic(mode: str, **save: object) -> bytes:
    y, x = np.mgrid[0:37, 0:53]
    rgb = np.stack([(x * 5) % 256, (y * 7) % 256, ((x + y) * 3) % 256], axis=-1).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(rgb).convert(mode).save(buffer, "JPEG", quality=90, **save)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "save",
    [
        {"subsampling": 0},  # 4:4:4
        {"subsampling": 1},  # 4:2:2
        {"subsampling": 2},  # 4:2:0
        {"subsampling": 2, "restart_marker_blocks": 3},
    ],
    ids=["444", "422", "420", "restarts"],
)
def test_decodes_each_supported_layout(builtin_executor: Executor, tmp_path: Path, save: dict[str, object]) -> None:
    jpeg = _synthetic("RGB", **save)
    _assert_close(_decode(builtin_executor, tmp_path, jpeg), _reference_grey(jpeg))


def test_decodes_grey_jpeg(builtin_executor: Executor, tmp_path: Path) -> None:
    jpeg = _synthetic("L")
    _assert_close(_decode(builtin_executor, tmp_path, jpeg), _reference_grey(jpeg))


def _detect(run_builtin: RunBuiltin, image: bytes, **args: object) -> str:
    return run_builtin("builtin-face-detection", {"image": list(image), **args}).error


@needs_fixtures
def test_the_builtin_decodes_then_says_the_model_is_missing(run_builtin: RunBuiltin) -> None:
    jpeg = (FIXTURES / "face_detection" / "input.jpg").read_bytes()
    args = {"min_face_size": 20, "score_thresh": 2.0, "pyramid_scale_factor": 0.8}
    message = _detect(run_builtin, jpeg, slide_window_step_x=4, slide_window_step_y=4, **args)
    assert message == (
        "face detection needs rustface's SeetaFace frontal model (seeta_fd_frontal_v1.0.bin), which this teabox "
        "does not ship: the 1666x1136 image was decoded, but no detection can run without the model"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"min_face_size": 19}, "min_face_size must be at least 20"),
        ({"window_size": 10}, "window_size must be at least 20"),
        ({"pyramid_scale_factor": 1.5}, "pyramid_scale_factor must be between 0.01 and 0.99"),
        ({"score_thresh": 0}, "score_thresh must be above 0.0"),
        ({"slide_window_step_x": 4}, "slide_window_step_x and slide_window_step_y must be given together"),
        ({"slide_window_step_x": 0, "slide_window_step_y": 4}, "slide_window_step_x must be at least 1"),
    ],
)
def test_argument_refusals(run_builtin: RunBuiltin, args: dict[str, object], message: str) -> None:
    assert _detect(run_builtin, _synthetic("RGB"), **args) == message


def test_image_refusals(run_builtin: RunBuiltin) -> None:
    assert run_builtin("builtin-face-detection", {"image": [1, 256]}).error == (
        "Cannot deserialize arguments: `image` must be an array of byte values (integers 0 to 255)"
    )
    assert run_builtin("builtin-face-detection", {"image": "abc"}).error == (
        "Cannot deserialize arguments: `image` must be an array of byte values"
    )
    assert _detect(run_builtin, b"GIF89a") == "the image cannot be decoded: the image is not a JPEG file"
    progressive = _synthetic("RGB", progressive=True)
    assert _detect(run_builtin, progressive) == "the image cannot be decoded: progressive JPEG is not supported"
    assert _detect(run_builtin, _synthetic("RGB")[:300]).startswith("the image cannot be decoded: ")
    huge = bytearray(_synthetic("RGB"))
    sof = huge.index(b"\xff\xc0")
    huge[sof + 5 : sof + 9] = b"\xff\xff\xff\xff"  # 65535 x 65535: its planes would overflow 32-bit sizes
    assert _detect(run_builtin, bytes(huge)) == "the image cannot be decoded: the image is larger than 64 megapixels"
