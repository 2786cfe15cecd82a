# Odoo (18.0 or 19.0, the official image) with this addon's Python
# dependencies; the addon itself is mounted by docker-compose.yml (or copied in
# by a derived image for production). Both images run Ubuntu Noble's Python
# 3.12, the one `make test` runs besides 3.11.
ARG ODOO_VERSION=18.0
FROM odoo:${ODOO_VERSION}

USER root
COPY requirements.txt /tmp/odoo_mcp_quotation-requirements.txt
# The official image's Python is the distribution's: install beside it.
RUN pip3 install --no-cache-dir --break-system-packages \
        -r /tmp/odoo_mcp_quotation-requirements.txt \
    && rm /tmp/odoo_mcp_quotation-requirements.txt
USER odoo
