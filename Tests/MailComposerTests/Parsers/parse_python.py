#!/usr/bin/env python3
"""Parses a message with Python's email package (policy=default) and prints
what it found as JSON: header fields, addresses, the MIME tree with decoded
texts, and every defect. Attachment bodies go to files in OUTDIR.
Usage: parse_python.py MESSAGE OUTDIR"""
import json
import sys
from email import message_from_string, policy

ADDRESS_FIELDS = ("from", "to", "cc", "reply-to", "bcc")


def addresses(header):
    return [{"name": a.display_name, "local": a.username, "domain": a.domain} for a in header.addresses]


def part_tree(part, outdir, counter, defects, path):
    for defect in part.defects:
        defects.append(f"{path}: {type(defect).__name__}: {defect}")
    node = {
        "content_type": part.get_content_type(),
        "params": {k: v for k, v in part["content-type"].params.items()} if part["content-type"] else {},
        "cte": part.get("content-transfer-encoding"),
        "disposition": part.get_content_disposition(),
        "filename": part.get_filename(),
        "content_id": part.get("content-id"),
    }
    if part.is_multipart():
        node["children"] = [
            part_tree(child, outdir, counter, defects, f"{path}.{index + 1}")
            for index, child in enumerate(part.iter_parts())
        ]
    elif part.get_content_maintype() == "text" and part.get_content_disposition() is None:
        node["text"] = part.get_content()
    else:
        counter[0] += 1
        name = f"{outdir}/python-{counter[0]}"
        with open(name, "wb") as out:
            # The transfer encoding undone, no charset applied: the attachment's bytes.
            out.write(part.get_payload(decode=True))
        node["file"] = name
    return node


def main():
    path, outdir = sys.argv[1], sys.argv[2]
    with open(path, "rb") as source:
        raw = source.read()
    # Header bytes above 127 are UTF-8 (RFC 6532); the bodies are ASCII.
    message = message_from_string(raw.decode("utf-8"), policy=policy.default)
    defects = []
    result = {
        "headers": [[name, str(value)] for name, value in message.items()],
        "tree": part_tree(message, outdir, [0], defects, "message"),
    }
    for name in ADDRESS_FIELDS:
        header = message[name]
        if header is not None:
            for defect in header.defects:
                defects.append(f"{name}: {type(defect).__name__}: {defect}")
            result[name] = addresses(header)
    for name in ("subject", "message-id", "date", "mime-version"):
        header = message[name]
        if header is not None:
            for defect in header.defects:
                defects.append(f"{name}: {type(defect).__name__}: {defect}")
            result[name] = str(header)
    result["defects"] = defects
    json.dump(result, sys.stdout, ensure_ascii=False)


main()
