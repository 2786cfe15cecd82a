// Steps both tours take: a salesperson's way to a list of AI Quotations.
// (Odoo's stepUtils, which has the same two first steps, sits at another
// module path in 18.0 and 19.0: written out here, they run on both.)

/** Sales > AI Quotations > the menu of ``menuXmlid``, clicked as a user does. */
export function openAiQuotationsMenu(menuXmlid, content) {
    return [
        {
            content: "Open the apps menu",
            isActive: ["auto", "community", "desktop"],
            trigger: ".o_navbar_apps_menu button:enabled",
            run: "click",
        },
        {
            content: "Open Sales",
            trigger: '.o_app[data-menu-xmlid="sale.sale_menu_root"]',
            run: "click",
        },
        {
            content: "Open the AI Quotations menu",
            trigger: '.o-dropdown[data-menu-xmlid="odoo_mcp_quotation.menu_ai_quotations"]',
            run: "click",
        },
        {
            content,
            trigger: `.o-dropdown-item[data-menu-xmlid="${menuXmlid}"]`,
            run: "click",
        },
    ];
}

/** Open the record of the list whose row shows ``text``. */
export function openListRow(text, content) {
    return {
        content,
        trigger: `.o_list_view .o_data_row .o_data_cell:contains(${text})`,
        run: "click",
    };
}
