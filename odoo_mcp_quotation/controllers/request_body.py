"""Read a request body without letting a client decide how much is read."""

from werkzeug.exceptions import ClientDisconnected

from ..lib.json_body import JsonBodyError


def read_body(httprequest, limit):
    """The body, at most ``limit`` bytes; JsonBodyError when it is longer
    (``too_large``) or its chunked encoding is broken, which every door
    answers as it answers a bad body.

    A body announced over the limit is not read at all. A chunked body
    announces no length and werkzeug hands its stream over unbounded, so it
    is read only up to one byte past the limit: a client streaming gigabytes
    costs the worker ``limit`` bytes of memory, not the whole body.
    """
    if (httprequest.content_length or 0) > limit:
        raise JsonBodyError.too_large_for(limit)
    # Odoo's HTTPRequest offers only get_data(), which reads to the end:
    # werkzeug's request, which it wraps, has the stream
    wrapped = httprequest._HTTPRequest__wrapped
    # read once, kept where werkzeug's get_data() keeps it: a request Odoo
    # serves again after a conflict (``retrying``) finds the stream drained
    if getattr(wrapped, "_cached_data", None) is None:
        wrapped._cached_data = _read_at_most(wrapped.stream, limit)
    if len(wrapped._cached_data) > limit:
        raise JsonBodyError.too_large_for(limit)
    return wrapped._cached_data


def _read_at_most(stream, limit):
    """The stream's bytes, up to one past ``limit``."""
    parts, size = [], 0
    try:
        while size <= limit:
            part = stream.read(limit + 1 - size)
            if not part:
                break
            parts.append(part)
            size += len(part)
    except (OSError, ClientDisconnected) as error:
        # werkzeug's chunk decoder, or the client gone: Werkzeug 2.2 (Odoo's
        # pin on Python 3.11) lets the decoder's OSError through, Werkzeug 3
        # (3.12) wraps it into ClientDisconnected, a 400 of its own in HTML
        cause = error.__context__ if isinstance(error, ClientDisconnected) else error
        raise JsonBodyError(
            f"The body could not be read ({cause or 'the client went away'}): "
            "send it with a Content-Length, or as valid chunks."
        ) from None
    return b"".join(parts)
