"""Domains put together the way Odoo does, in one place.

Odoo 19.0 deprecates ``odoo.osv.expression`` for ``odoo.fields.Domain``:
whatever decides between them switches it here, and nowhere else.
"""

from odoo.osv import expression


def any_of(*domains):
    """The domain matching what any of ``domains`` matches."""
    return expression.OR(domains)
