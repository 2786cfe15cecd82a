import { registry } from "@web/core/registry";
import { openAiQuotationsMenu, openListRow } from "./tour_steps";

// Data comes from TestQuotationTaskTour: one done and one failed request.
registry.category("web_tour.tours").add("odoo_mcp_quotation_tour", {
    url: "/odoo",
    steps: () => [
        ...openAiQuotationsMenu(
            "odoo_mcp_quotation.menu_quotation_task",
            "Open the requests"
        ),
        {
            content: "The failed request stands out in red, with its state badge",
            trigger:
                ".o_list_view .o_data_row.text-danger:contains(Tour Failed Customer) .badge:contains(Failed)",
        },
        openListRow("Tour Done Customer", "Open the done request"),
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
