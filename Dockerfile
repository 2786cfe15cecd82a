# Odoo 18 with this addon's Python dependencies; the addon itself is mounted
# by docker-compose.yml (or copied in by a derived image for production).
FROM odoo:18.0

USER root
COPY requirements.txt /tmp/odoo_mcp_quotation-requirements.txt
# The official image's Python is the distribution's: install beside it.
RUN pip3 install --no-cache-dir --break-system-packages \
        -r /tmp/odoo_mcp_quotation-requirements.txt \
    && rm /tmp/odoo_mcp_quotation-requirements.txt
USER odoo
