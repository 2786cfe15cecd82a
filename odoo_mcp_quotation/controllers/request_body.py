"""Read a request body without letting a client decide how much is read."""


def read_body(httprequest, limit):
    """The body, or None when it is longer than ``limit`` bytes.

    A body announced over the limit is not read at all. A chunked body
    announces no length and werkzeug hands its stream over unbounded, so it
    is read only up to one byte past the limit: a client streaming gigabytes
    costs the worker ``limit`` bytes of memory, not the whole body.
    """
    if (httprequest.content_length or 0) > limit:
        return None
    # Odoo's HTTPRequest offers only get_data(), which reads to the end:
    # werkzeug's request, which it wraps, has the stream
    stream = httprequest._HTTPRequest__wrapped.stream
    parts, size = [], 0
    while size <= limit:
        part = stream.read(limit + 1 - size)
        if not part:
            break
        parts.append(part)
        size += len(part)
    return None if size > limit else b"".join(parts)
