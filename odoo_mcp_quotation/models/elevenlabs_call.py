from datetime import datetime, timezone

from markupsafe import Markup

from odoo import Command, _, api, fields, models
from odoo.exceptions import UserError

from .. import compat
from ..lib.elevenlabs_webhook import (
    TRANSCRIPTION,
    Analysis,
    caller_email,
    caller_number,
    collected_value,
)
from ..lib.settings import read_setting
from ..services.quotation_builder import QuotationBuilder

WAITING = "waiting"
LANDED = "landed"
TRIAGE = "triage"
NAME_KEYS = ("customer_name", "caller_name", "full_name", "name")
UNFINISHED_TASK_STATES = ("pending", "processing")


class CallNotReady(Exception):
    """The call's quotation task is still being built: land the call once it is."""


def _clock(seconds):
    seconds = int(seconds or 0)
    return f"{seconds // 60}:{seconds % 60:02d}"


@compat.unique_constraints(
    (
        "conversation_id_uniq",
        "unique(conversation_id)",
        "One call per ElevenLabs conversation.",
    ),
)
class ElevenlabsCall(models.Model):
    """A voice agent's call, as ElevenLabs reports it after hanging up.

    It lands on the opportunity of the quotation task made during the call,
    else on a new opportunity for the identified caller, else it waits in the
    triage list. Only the webhook queue writes its content.
    """

    _name = "elevenlabs.call"
    _description = "AI Voice Call"
    _inherit = ["mail.thread"]
    _order = "started_at desc, id desc"
    _mail_post_access = "read"

    name = fields.Char(compute="_compute_name", store=True)
    conversation_id = fields.Char(
        string="Conversation ID", required=True, readonly=True, index=True
    )
    agent_id = fields.Char(string="ElevenLabs Agent", readonly=True)
    company_id = fields.Many2one(
        "res.company",
        required=True,
        readonly=True,
        default=lambda self: self.env.company,
        index=True,
    )
    state = fields.Selection(
        [
            (WAITING, "Waiting for Transcript"),
            (LANDED, "On Opportunity"),
            (TRIAGE, "To Triage"),
        ],
        compute="_compute_state",
        store=True,
        index=True,
    )
    outcome = fields.Selection(
        [
            ("success", "Successful"),
            ("failure", "Unsuccessful"),
            ("unknown", "Unknown"),
        ],
        readonly=True,
        index=True,
        help="Whether the call reached its goal, as ElevenLabs' analysis judged.",
    )
    summary = fields.Text(readonly=True)
    transcript = fields.Json(readonly=True)
    evaluation = fields.Json(readonly=True)
    data_collection = fields.Json(string="Collected Data", readonly=True)
    transcript_html = fields.Html(
        string="Conversation", compute="_compute_transcript_html", sanitize=False
    )
    analysis_html = fields.Html(
        string="Analysis", compute="_compute_analysis_html", sanitize=False
    )
    started_at = fields.Datetime(readonly=True)
    duration = fields.Integer(string="Duration (s)", readonly=True)
    direction = fields.Char(readonly=True)
    caller_number = fields.Char(readonly=True)
    agent_number = fields.Char(string="Agent's Number", readonly=True)
    caller_email = fields.Char(readonly=True)
    caller_name = fields.Char(readonly=True)
    termination_reason = fields.Char(readonly=True)
    lead_id = fields.Many2one(
        "crm.lead", string="Opportunity", readonly=True, index=True
    )
    partner_id = fields.Many2one(
        related="lead_id.partner_id", string="Customer", store=True
    )
    user_id = fields.Many2one(
        related="lead_id.user_id", string="Salesperson", store=True, index=True
    )
    task_ids = fields.Many2many(
        "quotation.task", string="AI Requests", readonly=True, copy=False
    )
    audio_attachment_id = fields.Many2one(
        "ir.attachment", string="Recording", readonly=True, copy=False
    )
    transcript_received_at = fields.Datetime(readonly=True, copy=False)
    delivery_ids = fields.One2many(
        "elevenlabs.webhook.delivery",
        "call_id",
        string="Webhook Deliveries",
        groups="odoo_mcp_quotation.group_quotation_task_manager",
    )

    @api.depends("caller_name", "partner_id", "caller_number", "caller_email")
    def _compute_name(self):
        for call in self:
            who = (
                call.partner_id.name
                or call.caller_name
                or call.caller_number
                or call.caller_email
            )
            call.name = (
                _("Call with %s", who) if who else _("Call %s", call.conversation_id)
            )

    @api.depends("lead_id", "transcript_received_at")
    def _compute_state(self):
        for call in self:
            if call.lead_id:
                call.state = LANDED
            else:
                call.state = TRIAGE if call.transcript_received_at else WAITING

    @api.depends("transcript")
    def _compute_transcript_html(self):
        for call in self:
            call.transcript_html = call._render_transcript()

    @api.depends("evaluation", "data_collection")
    def _compute_analysis_html(self):
        for call in self:
            call.analysis_html = call._render_analysis()

    # ------------------------------------------------------------------ actions
    def action_create_opportunity(self):
        """Triage: put the call on its request's opportunity, or on a new one."""
        self.ensure_one()
        if self.lead_id:
            raise UserError(_("This call is already on an opportunity."))
        self.check_access("read")
        self.env["crm.lead"].check_access("create")
        call = self.sudo()
        lead = call.task_ids.lead_id[:1]
        call._set_lead(lead or call._create_opportunity(call._find_customer()))
        return self.lead_id.get_formview_action()

    def action_open_lead(self):
        self.ensure_one()
        return self.lead_id.get_formview_action()

    # ------------------------------------------------------------------ landing
    @api.model
    def _land(self, event, final):
        """Write a post-call event into Odoo (as superuser, from the queue).

        ``final``: the last attempt, which lands the call even if its quotation
        task is still unfinished, rather than failing.
        """
        call = self.search([("conversation_id", "=", event.data.conversation_id)])
        if not call:
            quiet = self.with_context(mail_create_nolog=True)
            call = quiet.create({"conversation_id": event.data.conversation_id})
        if event.type == TRANSCRIPTION:
            call._apply_transcription(event.data, final)
        else:
            call._apply_audio(event.audio_bytes())
        return call

    def _apply_transcription(self, data, final):
        tasks = self._matching_tasks()
        unfinished = tasks.filtered(lambda t: t.state in UNFINISHED_TASK_STATES)
        if not final and unfinished and not tasks.lead_id:
            raise CallNotReady(
                _("The quotation request of this call is not processed yet.")
            )
        self.write(self._prepare_transcription_values(data, tasks))
        lead = self.lead_id or tasks.lead_id[:1]
        # an unfinished task makes its own opportunity: the call waits in triage
        if not lead and not unfinished and (self.caller_email or self.caller_number):
            lead = self._create_opportunity(self._find_customer())
        if lead:
            self._set_lead(lead)
        for task in tasks:
            task.message_post(body=self._task_note(), subtype_xmlid="mail.mt_note")

    def _prepare_transcription_values(self, data, tasks):
        analysis = data.analysis or Analysis()
        metadata = data.metadata
        phone = metadata.phone_call
        started = metadata.start_time_unix_secs
        company = tasks.company_id[:1] or tasks.lead_id.company_id[:1]
        values = {
            "agent_id": data.agent_id,
            "outcome": analysis.call_successful,
            "summary": analysis.transcript_summary,
            "transcript": [
                turn.model_dump(mode="json", exclude_none=True)
                for turn in data.transcript
            ],
            "evaluation": {
                key: item.model_dump(mode="json", exclude_none=True)
                for key, item in analysis.evaluation_criteria_results.items()
            },
            "data_collection": {
                key: item.model_dump(mode="json", exclude_none=True)
                for key, item in analysis.data_collection_results.items()
            },
            "started_at": datetime.fromtimestamp(started, timezone.utc).replace(
                tzinfo=None
            )
            if started
            else False,
            "duration": int(metadata.call_duration_secs or 0),
            "termination_reason": metadata.termination_reason,
            "direction": phone.direction if phone else False,
            "agent_number": phone.agent_number if phone else False,
            "caller_number": caller_number(metadata),
            "caller_email": caller_email(analysis),
            "caller_name": collected_value(analysis, *NAME_KEYS),
            "task_ids": [Command.set(tasks.ids)],
            "transcript_received_at": fields.Datetime.now(),
        }
        if company:
            values["company_id"] = company.id
        return values

    def _apply_audio(self, audio):
        attachment = self.env["ir.attachment"].create(
            {
                "name": f"{self.conversation_id}.mp3",
                "raw": audio,
                "mimetype": "audio/mpeg",
                "res_model": self._name,
                "res_id": self.id,
            }
        )
        attachment._set_voice_metadata()  # Discuss's player in the chatter
        self.audio_attachment_id = attachment
        self._post_recording(self)
        if self.lead_id:
            self._post_recording(self.lead_id)

    def _matching_tasks(self):
        """The quotation tasks the voice agent user (a setting) made during
        this conversation.

        Agents send ``conversation_id`` (from ``system__conversation_id``); it
        is kept in the request and, without an Idempotency-Key, as its key.
        Any user with a key can send any ``conversation_id``: only the voice
        agent user's tasks are trusted with the call; unset, none are.
        """
        Task = self.env["quotation.task"]
        user_id = read_setting(self.env, "elevenlabs_user_id")
        if not user_id:
            return Task
        Task.flush_model(["idempotency_key", "request_payload", "requested_by_id"])
        self.env.cr.execute(
            """
            SELECT id FROM quotation_task
             WHERE requested_by_id = %s
               AND (idempotency_key = %s
                    OR request_payload->>'conversation_id' = %s)
             ORDER BY id
            """,
            [user_id, self.conversation_id, self.conversation_id],
        )
        return Task.browse(r[0] for r in self.env.cr.fetchall())

    def _find_customer(self):
        return QuotationBuilder(self.env).find_customer(
            self.caller_email, self.caller_number
        )

    def _create_opportunity(self, partner):
        """An opportunity for a caller who asked for no quotation during the call."""
        builder = QuotationBuilder(self.env)
        follow_up = builder.follow_up_values(partner, self.company_id)
        salesperson = self.env["res.users"].browse(follow_up["user_id"])
        follow_up.setdefault("team_id", salesperson.sale_team_id.id)
        return self.env["crm.lead"].create(
            {
                **builder.opportunity_values(
                    partner,
                    self.company_id,
                    _("Phone call: %s", self._caller_label()),
                    "rest",
                    email=self.caller_email,
                    phone=self.caller_number,
                    description=self.summary,
                ),
                **follow_up,
                "contact_name": False if partner else self.caller_name,
            }
        )

    def _caller_label(self):
        return (
            self.caller_name
            or self.caller_email
            or self.caller_number
            or (self.started_at and fields.Datetime.to_string(self.started_at))
            or self.conversation_id
        )

    def _set_lead(self, lead):
        """Put the call on ``lead``: its note, and the recording if there is one."""
        self.lead_id = lead
        lead.message_post(body=self._lead_note(), subtype_xmlid="mail.mt_note")
        if self.audio_attachment_id:
            self._post_recording(lead)

    def _post_recording(self, record):
        record.message_post(
            body=_("Recording of the call."),
            attachment_ids=self.audio_attachment_id.ids,
            subtype_xmlid="mail.mt_note",
        )

    # ------------------------------------------------------------------ rendering
    def _lead_note(self):
        heading = _(
            "Call with the voice agent (%(duration)s, outcome: %(outcome)s)",
            duration=_clock(self.duration),
            outcome=self._outcome_label(self.outcome or "unknown"),
        )
        return (
            Markup("<p><b>%s</b></p><p>%s</p>")
            % (heading, self.summary or _("No summary."))
            + self._render_transcript()
        )

    def _task_note(self):
        return Markup("<p><b>%s</b></p><p>%s</p>") % (
            _("Call summary"),
            self.summary or _("No summary."),
        )

    def _render_transcript(self):
        """Who said what, and when: one line per turn."""
        lines = Markup("").join(
            Markup(
                '<p class="mb-1"><span class="text-muted">%s</span> <b>%s</b>: %s</p>'
            )
            % (
                _clock(turn.get("time_in_call_secs")),
                self._speaker(turn.get("role")),
                turn["message"],
            )
            for turn in self.transcript or []
            if turn.get("message")
        )
        return Markup('<div class="o_elevenlabs_transcript">%s</div>') % lines

    def _speaker(self, role):
        return {"agent": _("Agent"), "user": _("Customer")}.get(role, role or "?")

    def _outcome_label(self, value):
        labels = dict(self._fields["outcome"]._description_selection(self.env))
        return labels.get(value, value or "")

    def _render_analysis(self):
        rows = [
            (
                key,
                self._outcome_label(item.get("result")),
                item.get("rationale") or "",
            )
            for key, item in (self.evaluation or {}).items()
        ]
        rows += [
            (
                key,
                "" if item.get("value") is None else str(item.get("value")),
                item.get("rationale") or "",
            )
            for key, item in (self.data_collection or {}).items()
        ]
        if not rows:
            return Markup("<p>%s</p>") % _("No evaluation or collected data.")
        body = Markup("").join(
            Markup("<tr><td>%s</td><td><b>%s</b></td><td>%s</td></tr>") % row
            for row in rows
        )
        return Markup(
            '<table class="table table-sm o_elevenlabs_analysis">'
            "<thead><tr><th>%s</th><th>%s</th><th>%s</th></tr></thead>"
            "<tbody>%s</tbody></table>"
        ) % (_("Criterion or data"), _("Result or value"), _("Why"), body)

    def _audit_outcome(self):
        return {
            "call_state": self.state,
            "outcome": self.outcome or None,
            "opportunity": {"id": self.lead_id.id, "name": self.lead_id.name}
            if self.lead_id
            else None,
            "tasks": self.task_ids.mapped("tracking_id"),
            "recording": bool(self.audio_attachment_id),
        }
