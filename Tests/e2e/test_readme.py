"""The README's curl examples, run as written against the main command
(scripts/run.sh in demo mode: the gateway on 127.0.0.1:8025, smtp-sink
behind it on 127.0.0.1:2525). Each example block is marked in the README with
the outcome it shows (`queued`: the 202, then the delivery's status)."""
import json
import os
import re
import signal
import subprocess
import time
import urllib.request

import pytest

from conftest import ROOT, needs_netns

pytestmark = needs_netns

EXAMPLE = re.compile(r"<!-- readme-example: (\w+) -->\n```sh\n(.*?)```", re.S)


def examples():
    return EXAMPLE.findall((ROOT / "README.md").read_text())


def test_readme_has_examples():
    assert len(examples()) >= 4


@pytest.fixture(scope="module")
def main_command():
    env = {k: v for k, v in os.environ.items() if k != "QMAILHOME"}
    process = subprocess.Popen([str(ROOT / "scripts" / "run.sh")], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    for _ in range(600):
        try:
            with urllib.request.urlopen("http://127.0.0.1:8025/healthz", timeout=1) as answer:
                if answer.status == 200:
                    break
        except OSError:
            if process.poll() is not None:
                pytest.fail("scripts/run.sh exited: " + process.stderr.read().decode(errors="replace"))
            time.sleep(0.1)
    yield process
    process.send_signal(signal.SIGTERM)
    assert process.wait(60) == 0


@pytest.mark.parametrize("index", range(len(examples())))
def test_readme_example_works_as_written(main_command, index):
    expected, script = examples()[index]
    result = subprocess.run(["bash", "-c", "set -euo pipefail\n" + script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    if expected == "queued":
        # The 202's body went to stderr (tee), the status read a second later to stdout.
        assert json.loads(result.stderr)["status"] == "queued", result.stderr
        status = json.loads(result.stdout)
        assert status["status"] == "delivered", status
        assert status["attempts"][0]["reports"][-1]["letter"] == "K"
    elif expected == "ok":
        assert json.loads(first) == {"status": "ok"}
        assert "qmail_remote_httpd_deliveries_total" in result.stdout
    else:
        answer = json.loads(result.stdout)
        assert answer["outcome"] == expected, answer
        assert all(r["text"] or r["report"] == "r" for r in answer["recipients"])
