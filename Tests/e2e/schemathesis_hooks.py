"""Schemathesis hooks for the gateway's spec: raw bodies are message/rfc822,
which schemathesis cannot serialize by itself; they are bytes as given."""
import schemathesis


@schemathesis.serializer("message/rfc822")
def rfc822(ctx, value):
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf-8", "surrogatepass")
