"""The HTTP contract: api/openapi.yaml is a valid OpenAPI 3.1 document, and
schemathesis, generating requests from it against the live gateway (every
route leading to Postfix's smtp-sink), finds no 5xx and no answer that
breaks the spec."""
import os
import subprocess
import sys

from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename

from conftest import ROOT, needs_netns

SPEC = ROOT / "api" / "openapi.yaml"


def test_spec_is_valid_openapi_3_1():
    document, _ = read_from_filename(str(SPEC))
    assert document["openapi"].startswith("3.1")
    validate(document)


@needs_netns
def test_schemathesis_finds_nothing(home, smtp_sink, dns, gateway):
    port, _ = smtp_sink
    home.control("smtproutes", f":127.0.0.1:{port}\n")
    dns({})
    g = gateway("--max-message-bytes", "1000000")
    env = dict(os.environ, SCHEMATHESIS_HOOKS="schemathesis_hooks",
               PYTHONPATH=str(ROOT / "Tests" / "e2e"))
    checks = ",".join(["not_a_server_error", "status_code_conformance", "content_type_conformance",
                       "response_schema_conformance", "response_headers_conformance"])
    result = subprocess.run([sys.executable, "-m", "schemathesis.cli", "run", str(SPEC), "--url", f"http://127.0.0.1:{g.port}",
                             "--checks", checks, "--max-examples", "150", "--seed", "1", "--no-color"],
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
