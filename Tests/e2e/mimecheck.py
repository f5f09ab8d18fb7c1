"""What a message built by POST /v1/messages must read back as, through two
MIME parsers nobody here wrote: Python's email package (policy=default) and
Perl's Email::MIME (Tests/MailComposerTests/Parsers/parse_perl.pl). The
expectations come from the request's JSON alone: every address, the
subject, the extra fields, the MIME shape, each text and each attachment
byte for byte; no Bcc, no defects, CRLF lines of at most 998 octets."""
import base64
import json
import pathlib
import subprocess
import tempfile
from email import message_from_string, policy

PERL_PARSER = pathlib.Path(__file__).resolve().parents[1] / "MailComposerTests" / "Parsers" / "parse_perl.pl"


def trimmed(text):
    return text.strip(" \t")


def phrase(text):
    """A display name as a phrase reads: trimmed, runs of spaces as one."""
    return " ".join(part for part in trimmed(text).split(" ") if part) if text else ""


def expected_address(field):
    if isinstance(field, dict):
        name, address = field.get("name") or "", field["address"]
    elif field.rstrip().endswith(">") and "<" in field:
        open_at = field.rindex("<")
        name, address = trimmed(field[:open_at]), field[open_at + 1:field.rstrip().rindex(">")]
        if name.startswith('"') and name.endswith('"'):
            name = name[1:-1].replace('\\"', '"')
    else:
        name, address = "", field
    local, _, domain = trimmed(address).rpartition("@")
    return {"name": phrase(name), "local": local, "domain": domain}


def expected_addresses(request, key):
    value = request.get(key)
    if value is None or value == []:
        return None
    return [expected_address(field) for field in (value if isinstance(value, list) else [value])]


def expected_tree(request):
    """(shape, leaves): mixed > alternative > related, each only when needed."""
    attachments = request.get("attachments", [])
    has_html = "html" in request

    def kind(attachment):
        return (attachment.get("content_type") or "application/octet-stream").split(";")[0].strip().lower()

    inline = [a for a in attachments if a.get("content_id") and has_html]
    attached = [a for a in attachments if not (a.get("content_id") and has_html)]
    html_shape, html_leaves = "text/html", ([("text", request["html"])] if has_html else [])
    if inline:
        html_shape = "multipart/related(text/html," + ",".join(map(kind, inline)) + ")"
        html_leaves += [("attachment", a, True) for a in inline]
    if "text" in request and has_html:
        shape, leaves = f"multipart/alternative(text/plain,{html_shape})", [("text", request["text"])] + html_leaves
    elif "text" in request:
        shape, leaves = "text/plain", [("text", request["text"])]
    else:
        shape, leaves = html_shape, html_leaves
    if attached:
        shape = f"multipart/mixed({shape}," + ",".join(map(kind, attached)) + ")"
        leaves += [("attachment", a, False) for a in attached]
    return shape, leaves


def line_feeds(text):
    return text.replace("\r\n", "\n").replace("\r", "\n")


# --- Python's email package --------------------------------------------------

def python_parse(raw):
    # Header bytes above 127 are UTF-8 (RFC 6532); bodies are 7-bit (check_wire).
    message = message_from_string(raw.decode("utf-8"), policy=policy.default)
    defects = []

    def tree(part, path):
        defects.extend(f"{path}: {type(d).__name__}" for d in part.defects)
        node = {"content_type": part.get_content_type(), "cte": part.get("content-transfer-encoding"),
                "disposition": part.get_content_disposition(), "filename": part.get_filename(),
                "content_id": part.get("content-id"), "params": dict(part["content-type"].params)
                if part["content-type"] else {}}
        if part.is_multipart():
            node["children"] = [tree(child, f"{path}.{i + 1}") for i, child in enumerate(part.iter_parts())]
        elif part.get_content_maintype() == "text" and part.get_content_disposition() is None:
            node["text"] = part.get_content()
        else:
            node["bytes"] = part.get_payload(decode=True)
        return node

    result = {"tree": tree(message, "message"), "headers": [[k, str(v)] for k, v in message.items()]}
    for name in ("from", "to", "cc", "reply-to", "bcc"):
        header = message[name]
        if header is not None:
            defects.extend(f"{name}: {type(d).__name__}" for d in header.defects)
            result[name] = [{"name": a.display_name, "local": a.username, "domain": a.domain}
                            for a in header.addresses]
    for name in ("subject", "message-id", "date", "mime-version"):
        header = message[name]
        if header is not None:
            defects.extend(f"{name}: {type(d).__name__}" for d in header.defects)
            result[name] = str(header)
    result["defects"] = defects
    return result


# --- Perl's Email::MIME -------------------------------------------------------

def perl_parse(raw):
    with tempfile.TemporaryDirectory(prefix="perl-mime-") as folder:
        path = pathlib.Path(folder) / "message.eml"
        path.write_bytes(raw)
        result = subprocess.run(["perl", str(PERL_PARSER), str(path), folder], capture_output=True, timeout=300)
        assert result.returncode == 0, result.stderr.decode(errors="replace")
        parsed = json.loads(result.stdout)

        def load(node):
            if "file" in node:
                node["bytes"] = pathlib.Path(node.pop("file")).read_bytes()
            for child in node.get("children", []):
                load(child)

        load(parsed["tree"])
        return parsed


# --- The comparison ------------------------------------------------------------

def shape(node):
    if "children" not in node:
        return node["content_type"]
    return node["content_type"] + "(" + ",".join(shape(c) for c in node["children"]) + ")"


def leaves(node):
    if "children" not in node:
        return [node]
    return [leaf for child in node["children"] for leaf in leaves(child)]


def check(raw, request, message_id, parser):
    """Everything `parser` found in `raw` is what `request` asked for."""
    parsed = python_parse(raw) if parser == "python" else perl_parse(raw)
    where = f"({parser})"
    utf8_local = any(any(ord(c) > 127 for c in a["local"])
                     for key in ("from", "to", "cc", "reply_to") for a in expected_addresses(request, key) or [])
    defects = [d for d in parsed.get("defects", []) if not (utf8_local and "NonASCIILocalPart" in d)]
    assert defects == [], (where, defects)
    assert "bcc" not in parsed and not any(k.lower() == "bcc" for k, _ in parsed["headers"]), where

    for key, name in (("from", "from"), ("to", "to"), ("cc", "cc"), ("reply_to", "reply-to")):
        found = parsed.get(name)
        wanted = expected_addresses(request, key)
        if parser == "python" and found:
            # Python 3.11 keeps the space between two encoded words of a long
            # display name (RFC 2047 6.2 drops it; Perl does): compared collapsed.
            found = [dict(a, name=phrase(a["name"])) for a in found]
        assert found == wanted, (where, key, found, wanted)
    if "subject" in request:
        assert parsed["subject"] == trimmed(request["subject"]), (where, parsed["subject"])
    assert parsed["message-id"] == f"<{message_id}>", where
    assert parsed["mime-version"] == "1.0", where
    assert parsed["date"], where
    headers = {k.lower(): v for k, v in parsed["headers"]}
    for name, value in request.get("headers", {}).items():
        assert headers.get(name.lower()) == trimmed(value), (where, name)

    wanted_shape, wanted_leaves = expected_tree(request)
    assert shape(parsed["tree"]) == wanted_shape, (where, shape(parsed["tree"]))
    found_leaves = leaves(parsed["tree"])
    assert len(found_leaves) == len(wanted_leaves), where
    for leaf, wanted in zip(found_leaves, wanted_leaves):
        if wanted[0] == "text":
            assert leaf["params"].get("charset", "").lower() == "utf-8", where
            assert line_feeds(leaf["text"]) == line_feeds(wanted[1]), where
        else:
            attachment, inline = wanted[1], wanted[2]
            assert leaf["filename"] == trimmed(attachment["filename"]), (where, leaf["filename"])
            assert leaf["disposition"] == ("inline" if inline else "attachment"), where
            assert leaf["content_id"] == (f"<{attachment['content_id']}>" if attachment.get("content_id") else None)
            assert (leaf["cte"] or "").lower() == "base64", where
            assert leaf["bytes"] == base64.b64decode(attachment["content_base64"]), (where, attachment["filename"])


def check_wire(raw):
    """CRLF only, no line over 998 octets, 8-bit only where RFC 6532 allows it (headers)."""
    body_start = raw.index(b"\r\n\r\n")
    assert raw.endswith(b"\r\n")
    for line in raw.split(b"\r\n"):
        assert b"\r" not in line and b"\n" not in line
        assert len(line) <= 998
    assert all(byte < 128 for byte in raw[body_start:]), "the body is 7-bit"
