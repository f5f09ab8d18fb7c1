"""What the queue tests share: queuing a delivery (Prefer: respond-async, an
Idempotency-Key), reading statuses and metrics until a condition holds, and
counting what reached an smtp-sink dump directory by the message's Subject."""
import collections
import json
import os
import time

MESSAGE = "Subject: hi\n\nHello\n"


def post(g, payload, token=None, key=None, queued=False, raw=None, path="/v1/deliveries", timeout=60,
         content_type="application/json"):
    headers = {"Content-Type": content_type}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if key is not None:
        headers["Idempotency-Key"] = key
    if queued:
        headers["Prefer"] = "respond-async"
    body = raw if raw is not None else json.dumps(payload).encode()
    return g.request("POST", path, body=body, headers=headers, timeout=timeout)


def queue(g, payload, **options):
    """POSTs with Prefer: respond-async; asserts the 202 and returns the id."""
    answer = post(g, payload, queued=True, **options)
    assert answer.status == 202, (answer.status, answer.body)
    return answer.json["id"]


def status(g, delivery_id, token=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return g.request("GET", f"/v1/deliveries/{delivery_id}", headers=headers)


def wait_for_status(g, delivery_id, states=("delivered", "failed", "mixed"), token=None, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        answer = status(g, delivery_id, token)
        if answer.status == 200 and answer.json["status"] in states:
            return answer.json
        if time.monotonic() > deadline:
            raise AssertionError(f"{delivery_id} still {answer.status} {answer.body[:2000]!r}")
        time.sleep(0.05)


def metrics(g, token=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    values = {}
    for line in g.request("GET", "/metrics", headers=headers).body.decode().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def wait_until(condition, timeout=30, step=0.05, message="condition"):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        time.sleep(step)


def queue_empty(g):
    """The store says no delivery is unfinished (read at most a second ago)."""
    values = metrics(g)
    return values.get("qmail_remote_httpd_store_up") == 1 and \
        values.get("qmail_remote_httpd_queue_deliveries") == 0 and \
        values.get("qmail_remote_httpd_queue_jobs_claimed") == 0


def subjects_at(dump):
    """How many copies of each Subject reached an smtp-sink dump directory."""
    counts = collections.Counter()
    for name in os.listdir(dump):
        with open(os.path.join(dump, name), "rb") as dumped:
            for line in dumped:
                if line.startswith(b"Subject: "):
                    counts[line[9:].strip().decode()] += 1
                    break
    return counts


def attempt_lines(g):
    return [line for line in g.log_lines() if line.get("message") == "attempt"]
