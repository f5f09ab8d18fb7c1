"""The installed binary itself: Swift's runtime linked in statically and
nothing that starts Foundation, since it is started once per message."""
import subprocess

from conftest import BINARY


def test_links_no_swift_runtime_or_foundation_dynamically():
    libraries = subprocess.run(["ldd", str(BINARY)], capture_output=True, text=True, check=True).stdout
    assert "libswiftCore" not in libraries
    assert "Foundation" not in libraries
    assert "libdispatch" not in libraries


def test_exit_status_is_zero_even_for_nonsense(home):
    for args in [(), ("\xff",), ("a", "b")]:
        result = subprocess.run([str(BINARY), *args], capture_output=True, env={"QMAILHOME": "/nonexistent"})
        assert result.returncode == 0
        assert result.stdout.endswith(b"\0") and result.stdout.count(b"\0") == 1
