"""POST /v1/jobs refusals: upload limits, empty and binary input, bad parameters and malformed bodies.
Every refusal leaves nothing in the artifact store."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.api.conftest import SMI, Api, assert_error, stored_files

pytestmark = pytest.mark.postgres


def test_content_length_over_the_cap_is_413_before_reading(make_api) -> None:  # type: ignore[no-untyped-def]
    api: Api = make_api(max_upload_bytes="1000")
    r = api.client.post(
        "/v1/jobs?domain=screening&filename=a.smi",
        content=b"C" * 1001,
        headers={**api.headers, "Content-Type": "text/plain"},
    )
    assert_error(r, 413, "PAYLOAD_TOO_LARGE")
    assert stored_files(api) == []


def _chunks(total: int, size: int = 256) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        n = min(size, total - sent)
        sent += n
        yield b"CCO\n"[:n] if n < 4 else b"CCO\n" * (n // 4) + b"C" * (n % 4)


def test_streamed_body_over_the_cap_is_413_and_leaves_no_partial_file(make_api) -> None:  # type: ignore[no-untyped-def]
    api: Api = make_api(max_upload_bytes="1000")
    # A generator body is sent chunked, without Content-Length: only the streaming cap can stop it.
    r = api.client.post(
        "/v1/jobs?domain=screening&filename=a.smi",
        content=_chunks(5000),
        headers={**api.headers, "Content-Type": "text/plain"},
    )
    assert "content-length" not in {k.lower() for k in r.request.headers}
    assert_error(r, 413, "PAYLOAD_TOO_LARGE")
    # Multipart: the body cap leaves room for form fields, so the file part's own cap is what trips.
    r = api.client.post(
        "/v1/jobs",
        headers=api.headers,
        data={"domain": "screening"},
        files={"file": ("a.smi", b"CCO\n" * 300)},
    )
    assert_error(r, 413, "PAYLOAD_TOO_LARGE")
    assert stored_files(api) == []
    # Just under the cap is fine.
    ok = api.client.post(
        "/v1/jobs?domain=screening&filename=a.smi",
        content=_chunks(1000),
        headers={**api.headers, "Content-Type": "text/plain"},
    )
    assert ok.status_code == 202, ok.text
    assert ok.json()["input_bytes"] == 1000


def test_empty_input_is_422_empty_input_in_every_shape(api: Api) -> None:
    inline = api.client.post("/v1/jobs", json={"domain": "screening", "items": []}, headers=api.headers)
    assert_error(inline, 422, "EMPTY_INPUT")
    assert_error(
        api.client.post("/v1/jobs", headers=api.headers, data={"domain": "screening"}, files={"file": ("a.smi", b"")}),
        422,
        "EMPTY_INPUT",
    )
    assert_error(
        api.client.post(
            "/v1/jobs?domain=screening", content=b"", headers={**api.headers, "Content-Type": "text/plain"}
        ),
        422,
        "EMPTY_INPUT",
    )
    assert stored_files(api) == []


def test_binary_file_is_rejected_with_a_4xx_and_not_stored(api: Api) -> None:
    blob = bytes(range(256)) * 64
    r = api.client.post(
        "/v1/jobs", headers=api.headers, data={"domain": "screening"}, files={"file": ("lib.smi", blob)}
    )
    err = assert_error(r, 422, "INVALID_INPUT")
    assert "binary" in err["message"]
    r = api.client.post(
        "/v1/jobs?domain=screening",
        content=b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        headers={**api.headers, "Content-Type": "application/octet-stream"},
    )
    assert_error(r, 422, "INVALID_INPUT")
    assert stored_files(api) == []


def test_bad_parameters_are_422_with_pydantic_messages(api: Api) -> None:
    err = assert_error(api.submit_inline(parameters={"no_such_option": 1}), 422, "INVALID_PARAMETERS")
    assert err["details"]["errors"][0]["loc"] == ["no_such_option"]
    err = assert_error(api.submit_inline(parameters={"input_format": "pdf"}), 422, "INVALID_PARAMETERS")
    assert "input_format" in err["details"]["errors"][0]["loc"]
    assert err["details"]["errors"][0]["msg"].startswith("Input should be")
    r = api.client.post(
        "/v1/jobs",
        headers=api.headers,
        data={"domain": "screening", "parameters": '{"rank_by": "mw"}'},
        files={"file": ("a.smi", SMI)},
    )
    assert_error(r, 422, "INVALID_PARAMETERS")
    r = api.client.post(
        "/v1/jobs",
        headers=api.headers,
        data={"domain": "screening", "parameters": "{not json"},
        files={"file": ("a.smi", SMI)},
    )
    assert_error(r, 422, "INVALID_INPUT")
    assert stored_files(api) == []


def test_unknown_domain_device_priority_are_422(api: Api) -> None:
    err = assert_error(
        api.client.post("/v1/jobs", json={"domain": "astrology", "items": ["CCO"]}, headers=api.headers),
        422,
        "UNKNOWN_DOMAIN",
    )
    assert "screening" in err["details"]["available"]
    r = api.client.post("/v1/jobs?domain=astrology", content=SMI, headers={**api.headers, "Content-Type": "text/plain"})
    assert_error(r, 422, "UNKNOWN_DOMAIN")
    assert_error(api.submit_inline(device="tpu"), 422, "INVALID_INPUT")
    assert_error(api.submit_inline(priority=99), 422)
    r = api.client.post(
        "/v1/jobs?domain=screening&priority=-1", content=SMI, headers={**api.headers, "Content-Type": "text/plain"}
    )
    assert_error(r, 422, "INVALID_INPUT")
    gpu = api.submit_inline(device="GPU")
    assert gpu.status_code == 202 and gpu.json()["device"] == "gpu"
    assert stored_files(api) != []  # only the accepted job's input


def test_malformed_requests_are_4xx_with_messages(api: Api) -> None:
    h = api.headers
    assert_error(
        api.client.post("/v1/jobs", content=b"{nope", headers={**h, "Content-Type": "application/json"}),
        400,
        "MALFORMED_BODY",
    )
    assert_error(
        api.client.post("/v1/jobs", content=b"%PDF", headers={**h, "Content-Type": "application/pdf"}),
        415,
        "UNSUPPORTED_MEDIA_TYPE",
    )
    # urlencoded forms are not one of the three shapes
    assert_error(api.client.post("/v1/jobs", headers=h, data={"domain": "screening"}), 415)
    no_file = api.client.post("/v1/jobs", headers=h, files=[("domain", (None, "screening"))])
    assert "no 'file' part" in assert_error(no_file, 422)["message"]
    assert_error(
        api.client.post("/v1/jobs", headers=h, data={"domain": "screening"}, files={"other": ("a.smi", SMI)}),
        422,
    )
    assert_error(
        api.client.post(
            "/v1/jobs",
            headers=h,
            data={"domain": "screening"},
            files=[("file", ("a.smi", SMI)), ("file", ("b.smi", SMI))],
        ),
        400,
    )
    # U2: a flood of tiny fields is refused at the first part that is not one of the few allowed ones.
    flood = b"".join(b'--b\r\nContent-Disposition: form-data; name="domain"\r\n\r\nx\r\n' for _ in range(100_000))
    r = api.client.post(
        "/v1/jobs", content=flood + b"--b--\r\n", headers={**h, "Content-Type": "multipart/form-data; boundary=b"}
    )
    assert "twice" in assert_error(r, 400)["message"]
    r = api.client.post(
        "/v1/jobs", headers=h, data={"domain": "screening", "name": "n" * 70_000}, files={"file": ("a.smi", SMI)}
    )
    assert_error(r, 413, "PAYLOAD_TOO_LARGE")
    boundary = "xyz"
    truncated = f'--{boundary}\r\nContent-Disposition: form-data; name="domain"\r\n\r\nscreening\r\n--{boundary}\r\n'
    truncated += 'Content-Disposition: form-data; name="file"; filename="a.smi"\r\n\r\nCCO\n'
    r = api.client.post(
        "/v1/jobs",
        content=truncated.encode(),
        headers={**h, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert_error(r, 400, "MALFORMED_BODY")
    r = api.client.post("/v1/jobs?domain=screening", json={"domain": "screening", "items": ["CCO"]}, headers=h)
    assert_error(r, 422)
    assert stored_files(api) == []


def test_inline_items_are_capped(api: Api) -> None:
    from api.schemas import MAX_INLINE_ITEMS

    r = api.client.post(
        "/v1/jobs", json={"domain": "screening", "items": ["C"] * (MAX_INLINE_ITEMS + 1)}, headers=api.headers
    )
    err = assert_error(r, 422)
    assert "items" in json.dumps(err["details"])


def test_a_bad_idempotency_key_is_refused_before_the_upload(api: Api) -> None:
    r = api.submit_inline(headers={"Idempotency-Key": "k" * 201})
    assert_error(r, 422, "INVALID_INPUT")
    r = api.client.post(
        "/v1/jobs?domain=screening",
        content=SMI,
        headers={**api.headers, "Content-Type": "text/plain", "Idempotency-Key": "sp ace"},
    )
    assert_error(r, 422, "INVALID_INPUT")
    assert stored_files(api) == []
