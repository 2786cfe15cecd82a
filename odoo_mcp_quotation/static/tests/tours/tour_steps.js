import { stepUtils } from "@web_tour/tour_service/tour_utils";

// Steps both tours take: a salesperson's way to a list of AI Quotations.

/** Sales > AI Quotations > the menu of ``menuXmlid``, clicked as a user does. */
export function openAiQuotationsMenu(menuXmlid, content) {
    return [
        ...stepUtils.goToAppSteps("sale.sale_menu_root", "Open Sales"),
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
