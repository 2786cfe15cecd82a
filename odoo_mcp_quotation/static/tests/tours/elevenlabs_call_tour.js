import { registry } from "@web/core/registry";
import { openAiQuotationsMenu, openListRow } from "./tour_steps";

// Data comes from TestElevenlabsCallTour: one call landed on its opportunity.
registry.category("web_tour.tours").add("odoo_mcp_quotation_call_tour", {
    url: "/odoo",
    steps: () => [
        ...openAiQuotationsMenu(
            "odoo_mcp_quotation.menu_elevenlabs_call",
            "Open the voice calls"
        ),
        {
            content: "The call is listed with its outcome",
            trigger:
                ".o_list_view .o_data_row:contains(Tour Caller) .badge:contains(Successful)",
        },
        openListRow("Tour Caller", "Open the call"),
        {
            content: "The conversation reads who said what, and when",
            trigger:
                ".o_elevenlabs_transcript p:contains(0:31):contains(Customer):contains(antes de marzo)",
        },
        {
            content: "The recording plays in the chatter",
            trigger: ".o-mail-Chatter .o-mail-VoicePlayer",
        },
        {
            content: "Show the evaluation and the collected data",
            trigger: ".o_notebook .nav-link:contains(Evaluation and Data)",
            run: "click",
        },
        {
            content: "The criteria are there",
            trigger: ".o_elevenlabs_analysis td:contains(quotation_requested)",
        },
        {
            content: "Go to the opportunity",
            trigger: ".oe_stat_button[name=action_open_lead]",
            run: "click",
        },
        {
            content: "The opportunity leads back to its call",
            trigger:
                ".oe_stat_button[name=action_view_elevenlabs_calls] .o_stat_value:contains(1)",
        },
        {
            content: "The summary is a note in the opportunity's chatter",
            trigger: ".o-mail-Chatter .o-mail-Message:contains(Call with the voice agent)",
        },
    ],
});
