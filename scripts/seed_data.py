"""The data a database of ours starts from, written once.

``make run`` (harness.py), ``make screenshots`` (screenshots.py) and the
outside-in tests (tests/helpers/servers.py) seed their databases with the
``odoo-bin shell`` code built here. Standard library only, importing nothing
of ours: harness.py needs it before its virtualenv exists.
"""

PRODUCTS = {
    "DESK-STD": ("Standing Desk", 520.0),
    "CHAIR-ERG": ("Ergonomic Chair", 189.0),
    "DESK-XL": ("Standing Desk XL", 640.0),
    "LAMP-LED": ("LED Desk Lamp", 39.9),
    "MON-27": ("27-inch Monitor", 249.0),
}
# what a demo shows; the tests' own catalogue has "desk" name exactly two products
DEMO_CATALOGUE = ("DESK-STD", "CHAIR-ERG", "LAMP-LED", "MON-27")
TEST_CATALOGUE = ("DESK-STD", "CHAIR-ERG", "DESK-XL")

# Runs after ``SEED = {...}``; idempotent, so ``make run`` may seed its database
# again. Leaves ``users`` ({login: record}) to the code that follows.
_SEED_CODE = """
from odoo.addons.odoo_mcp_quotation.compat import USER_GROUPS
Product = env["product.product"]
for code, name, price in SEED["products"]:
    if not Product.search([("default_code", "=", code)]):
        Product.create({"default_code": code, "name": name, "list_price": price})
users = {}
for login, values in SEED["users"].items():
    user = env["res.users"].search([("login", "=", login)])
    if not user:
        values = dict(values, login=login)
        group = env.ref(values.pop("group", "sales_team.group_sale_salesman"))
        user = env["res.users"].create({**values, USER_GROUPS: [(6, 0, group.ids)]})
    users[login] = user
if SEED["api_key"]:
    from odoo.addons.odoo_mcp_quotation.services.caller import KEY_SCOPE
    login, key_name = SEED["api_key"]
    Keys = env["res.users.apikeys"]
    Keys.search([("user_id", "=", users[login].id), ("name", "=", key_name)])._remove()
    scope = KEY_SCOPE if SEED["agent_key"] else None
    key = Keys.with_user(users[login]).sudo()._generate(scope, key_name, None)
    print("OMQ_API_KEY=" + key)
"""


def seed_script(catalogue, users, api_key=None, agent_key=False):
    """``odoo-bin shell`` code seeding products, users and maybe an API key.

    ``catalogue`` names products of ``PRODUCTS``; ``users`` maps a login to
    the values of its user, whose ``group`` (an xmlid) defaults to Sales'
    salesman group. With ``api_key=(login, name)``, that user gets a new key of
    that name, its previous one removed, printed as ``OMQ_API_KEY=<key>``:
    with ``agent_key``, a key of the addon's scope, which Odoo's XML-RPC and
    JSON-RPC refuse; else a global key (what XML-RPC peers in bench/ need).
    Commits nothing: the caller's script does once it is done.
    """
    seed = {
        "products": [(code, *PRODUCTS[code]) for code in catalogue],
        "users": users,
        "api_key": api_key,
        "agent_key": agent_key,
    }
    return f"SEED = {seed!r}\n{_SEED_CODE}"
