from odoo import _, api, models
from odoo.exceptions import AccessError, ValidationError

from ..lib.request_schema import clean_line, clean_text

# what callers other than the engine may store in one text field (the API's own
# bounds are tighter: 128 for a name, 4,000 for notes)
MAX_CHARS = {"char": 256, "text": 10_000}


class QuotationEngineFieldsMixin(models.AbstractModel):
    """Fields the engine sets are set by the engine only, whatever the door.

    A field declared read-only on the model (tracking id, requester, state,
    attempts, results, timestamps, the resolved product...) is written by the
    service and the state machine as superuser. The UI, Odoo's own XML-RPC and
    JSON-RPC and every other caller of ``create`` or ``write`` may not set it,
    a manager included: views hide nothing that the ORM would accept. Texts
    get the API's rules too: NFC, no control characters (PostgreSQL refuses
    a NUL with an error that would otherwise surface as a server error), and
    a bound on their length.
    """

    _name = "quotation.engine.fields.mixin"
    _description = "Fields Only the Engine Sets"

    @api.model_create_multi
    def create(self, vals_list):
        self._check_engine_fields(vals_list)
        return super().create([self._clean_texts(vals) for vals in vals_list])

    def write(self, vals):
        self._check_engine_fields([vals])
        return super().write(self._clean_texts(vals))

    @api.model
    def _clean_texts(self, vals):
        """Texts from outside the engine, normalised and bounded as the API does."""
        if self.env.su:
            return vals
        cleaned = dict(vals)
        for name, value in vals.items():
            field = self._fields.get(name)
            if field and field.type in MAX_CHARS and isinstance(value, str):
                cleaned[name] = self._clean_text(field, value)
        return cleaned

    @api.model
    def _clean_text(self, field, value):
        if len(value) > MAX_CHARS[field.type]:
            raise ValidationError(
                _(
                    "%(field)s: at most %(max)s characters.",
                    field=field.string,
                    max=MAX_CHARS[field.type],
                )
            )
        try:
            return (clean_text if field.type == "text" else clean_line)(value)
        except ValueError as error:
            raise ValidationError(
                _("%(field)s: %(problem)s", field=field.string, problem=error)
            ) from None

    @api.model
    def _check_engine_fields(self, vals_list):
        if self.env.su:
            return
        forbidden = sorted(
            {
                name
                for vals in vals_list
                for name in vals
                if name in self._fields and self._fields[name].readonly
            }
        )
        if forbidden:
            raise AccessError(
                _(
                    "Odoo sets these fields of an AI quotation request itself: "
                    "%(fields)s. Leave them out; a request changes state through "
                    "its Retry and Cancel buttons.",
                    fields=", ".join(forbidden),
                )
            )
