"""What differs between the Odoo versions this addon runs on (18.0 and 19.0).

One source tree serves both: every difference the addon meets is named here,
once, with where it shows in Odoo's source; docs/odoo-versions.md lists them
with what was checked. Nothing else in the addon reads Odoo's version.
"""

from odoo import models, release
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY
from odoo.tools import config

ODOO_MAJOR = release.version_info[0]

# res.users' own groups: ``groups_id`` in 18.0, ``group_ids`` in 19.0
# (odoo/addons/base/models/res_users.py)
USER_GROUPS = "groups_id" if ODOO_MAJOR < 19 else "group_ids"

if ODOO_MAJOR < 19:
    from odoo.osv.expression import OR as _domain_or
else:  # odoo.osv is deprecated for odoo.fields.Domain (odoo/osv/__init__.py)
    from odoo.fields import Domain

    _domain_or = Domain.OR


def any_of(*domains):
    """The domain matching what any of ``domains`` matches, as a list Odoo's
    ORM takes on both versions."""
    return list(_domain_or(domains))


# (model, name, definition) of every constraint declared below, which
# tests/test_constraints.py finds in the database
DECLARED_CONSTRAINTS = []


def unique_constraints(*constraints):
    """Class decorator declaring ``(name, definition, message)`` SQL constraints.

    18.0 reads ``_sql_constraints``; 19.0 ignores it with a mere warning (a
    unique constraint left there silently disappears) and wants one
    ``models.Constraint`` attribute per constraint, named ``_<name>``
    (odoo/orm/model_classes.py, odoo/orm/table_objects.py). Either way the
    database constraint is ``<table>_<name>``.
    """

    def declare(model_definition):
        DECLARED_CONSTRAINTS.extend(
            (model_definition._name, name, definition)
            for name, definition, _message in constraints
        )
        if ODOO_MAJOR < 19:
            model_definition._sql_constraints = [*constraints]
            return model_definition
        for name, definition, message in constraints:
            constraint = models.Constraint(definition, message)
            setattr(model_definition, f"_{name}", constraint)
            # a decorator comes after the class body: name it as Python would
            constraint.__set_name__(model_definition, f"_{name}")
        return model_definition

    return declare


def file_groups_under(groups, category, privilege_xmlid):
    """Show ``groups`` as one choice under ``category`` in the user form.

    18.0 files groups under an ``ir.module.category``; 19.0 under a
    ``res.groups.privilege`` (odoo/addons/base/models/res_groups.py,
    res_groups_privilege.py), itself in a category: there the privilege,
    named like ``category``, sits in its parent's section (Sales) and is
    recorded under ``privilege_xmlid``, so that uninstalling removes it.
    """
    if ODOO_MAJOR < 19:
        groups.write({"category_id": category.id})
        return
    privilege = groups.env["res.groups.privilege"]._load_records(
        [
            {
                "xml_id": privilege_xmlid,
                "values": {
                    "name": category.name,
                    "description": category.description,
                    "sequence": category.sequence,
                    "category_id": (category.parent_id or category).id,
                },
                "noupdate": False,
            }
        ]
    )
    groups.write({"privilege_id": privilege.id})


def serves_a_test(env):
    """Whether ``env``'s cursor is a test's, shared with the server it runs
    (HttpCase): 18.0 answers ``Registry.in_test_mode()``; 19.0 dropped it and
    patches ``Registry.cursor`` to hand out ``TestCursor``s instead
    (odoo/tests/common.py, ``_registry_test_mode_patches``)."""
    if ODOO_MAJOR < 19:
        return env.registry.in_test_mode()
    return type(env.cr).__name__ == "TestCursor"


def report_cron_progress(env, done, remaining):
    """Tell the running cron how many records were done and how many remain
    (Odoo calls it again, up to 10 times, while some remain). 18.0 has
    ``ir.cron._notify_progress``; 19.0 deprecates it for ``_commit_progress``,
    which also commits, and is a no-op outside a cron run either way
    (odoo/addons/base/models/ir_cron.py): called after the batch's own commit.
    """
    crons = env["ir.cron"]
    if ODOO_MAJOR < 19:
        crons._notify_progress(done=done, remaining=remaining)
    elif env.context.get("ir_cron_progress_id"):
        crons._commit_progress(done, remaining=remaining)


# the errors of a concurrent transaction after which Odoo serves a request
# again (odoo/service/model.py, ``retrying``): PostgreSQL's serialization
# failure, deadlock and lock not available; 19.0 adds its ConcurrencyError
if ODOO_MAJOR < 19:
    _RETRIED_ERRORS = PG_CONCURRENCY_EXCEPTIONS_TO_RETRY
else:
    from odoo.exceptions import ConcurrencyError

    _RETRIED_ERRORS = (*PG_CONCURRENCY_EXCEPTIONS_TO_RETRY, ConcurrencyError)


def retried_by_odoo(error):
    """Whether Odoo serves a request again after ``error``: it must reach
    Odoo's ``retrying`` rather than be answered."""
    return isinstance(error, _RETRIED_ERRORS)


# sale.order.line's unit of measure (odoo/addons/sale/models/sale_order_line.py)
ORDER_LINE_UOM = "product_uom" if ODOO_MAJOR < 19 else "product_uom_id"


def configured_database():
    """The database ``-d`` names, or None: 18.0 keeps the option's string,
    19.0 a list, ``-d`` taking several names (odoo/tools/config.py)."""
    name = config["db_name"]
    if isinstance(name, list):
        return name[0] if name else None
    return name or None
