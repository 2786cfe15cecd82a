import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";

// Data comes from TestQuotationTaskTour: one done and one failed request.
registry.category("web_tour.tours").add("odoo_mcp_quotation_tour", {
    url: "/odoo",
    steps: () => [
        ...stepUtils.goToAppSteps("sale.sale_menu_root", "Open Sales"),
        {
            content: "Open the AI Quotations menu",
            trigger: '.o-dropdown[data-menu-xmlid="odoo_mcp_quotation.menu_ai_quotations"]',
            run: "click",
        },
        {
            content: "Open the requests",
            trigger:
                '.o-dropdown-item[data-menu-xmlid="odoo_mcp_quotation.menu_quotation_task"]',
            run: "click",
        },
        {
            content: "The failed request stands out in red, with its state badge",
            trigger:
                ".o_list_view .o_data_row.text-danger:contains(Tour Failed Customer) .badge:contains(Failed)",
        },
        {
            content: "Open the done request",
            trigger: ".o_list_view .o_data_row .o_data_cell:contains(Tour Done Customer)",
            run: "click",
        },
        {
            content: "The form links the quotation it made",
            trigger: ".o_form_view .o_field_widget[name=sale_order_id] a",
        },
        {
            content: "Show the request as it was sent",
            trigger: ".o_form_view .o_notebook .nav-link:contains(Request as Sent)",
            run: "click",
        },
        {
            content: "The JSON is shown, pretty-printed",
            trigger:
                '.o_field_widget[name=request_payload_pretty]:contains("customer_name": "Tour Done Customer")',
        },
        {
            content: "Back to the list",
            trigger: ".breadcrumb-item.o_back_button a",
            run: "click",
        },
        {
            content: "Switch to the graph",
            trigger: ".o_switch_view.o_graph",
            run: "click",
        },
        {
            content: "The graph of requests per day is drawn",
            trigger: ".o_graph_view .o_graph_canvas_container canvas",
        },
    ],
});
