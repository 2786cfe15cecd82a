{
    "name": "AI Agent Quotations (REST and MCP)",
    "summary": "Voice agents and LLM clients create draft sales quotations in Odoo, "
    "processed reliably in the background",
    "version": "18.0.1.0.0",
    "author": "Odoo MCP Quotation contributors",
    "maintainers": ["odoo-mcp-quotation"],
    "website": "https://github.com/odoo-mcp-quotation/odoo_mcp_quotation",
    "license": "LGPL-3",
    "category": "Sales",
    "development_status": "Beta",
    "depends": ["sale_management", "crm"],
    "external_dependencies": {"python": ["pydantic", "mcp_types"]},
    "data": [
        "security/odoo_mcp_quotation_security.xml",
        "security/ir.model.access.csv",
        "data/utm_data.xml",
        "data/ir_cron_data.xml",
    ],
    "installable": True,
    "application": False,
}
