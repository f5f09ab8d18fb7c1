"""The installed binary itself: a static executable (no dynamic loader, no
shared library, OpenSSL linked in) without Foundation or Swift's concurrency
runtime and libdispatch, which would start up with it; it is started once per
message."""
import struct
import subprocess

from conftest import BINARY

PT_DYNAMIC, PT_INTERP = 2, 3


def program_header_types(path):
    data = path.read_bytes()
    assert data[:4] == b"\x7fELF" and data[4] == 2, "not a 64-bit ELF file"
    (offset,) = struct.unpack_from("<Q", data, 32)
    size, count = struct.unpack_from("<HH", data, 54)
    return [struct.unpack_from("<I", data, offset + index * size)[0] for index in range(count)]


def test_is_a_static_executable():
    types = program_header_types(BINARY)
    assert PT_INTERP not in types, "it asks for a dynamic loader"
    assert PT_DYNAMIC not in types, "it has a dynamic section"


def test_links_no_foundation_concurrency_or_dispatch():
    symbols = subprocess.run(["nm", str(BINARY)], capture_output=True, text=True, check=True).stdout
    assert "FoundationEssentials" not in symbols
    assert "swift_task_create" not in symbols, "Swift's concurrency runtime is linked in"
    assert "dispatch_async" not in symbols, "libdispatch is linked in"


def test_has_no_libcurl_to_load():
    """MTA-STS policies come over the core's own TLS: nothing names libcurl
    (which a static program could only dlopen, mapping a second libc)."""
    assert b"libcurl" not in BINARY.read_bytes()


def test_exit_status_is_zero_even_for_nonsense(home):
    for args in [(), ("\xff",), ("a", "b")]:
        result = subprocess.run([str(BINARY), *args], capture_output=True, env={"QMAILHOME": "/nonexistent"})
        assert result.returncode == 0
        assert result.stdout.endswith(b"\0") and result.stdout.count(b"\0") == 1
