"""The ``Prefer`` request header (RFC 7240): how long a client waits for a
finished answer (``wait``). Pure Python."""

MAX_WAIT_SECONDS = 10  # the longest a client may hold an HTTP worker


def preferred_wait(values):
    """The seconds of ``wait=N`` in the ``Prefer`` header ``values`` (one
    string per header line), at most ``MAX_WAIT_SECONDS``; 0 when absent or
    not a whole number of seconds: RFC 7240 has a server ignore a preference
    it does not understand, and answer as if it were not there."""
    for value in values:
        for preference in value.split(","):
            name, _sep, token = preference.split(";", 1)[0].partition("=")
            if name.strip().lower() != "wait":
                continue
            token = token.strip().strip('"')
            if not (token.isascii() and token.isdigit()):
                return 0
            # only the first wait counts (RFC 7240 2); a number too long for
            # int() (over 4,300 digits) is still only "as long as allowed"
            significant = token.lstrip("0")
            if len(significant) > len(str(MAX_WAIT_SECONDS)):
                return MAX_WAIT_SECONDS
            return min(int(significant or 0), MAX_WAIT_SECONDS)
    return 0
