"""The hours editor's live part: POST /admin/hours/editor (htmx) gives the editor again for
what the clerk changed: the string made from the grid (or the grid read from the string), the
error at its position, and the next 30 days as the API will answer them."""

from flask import render_template, request
from flask_login import login_required

from service.console import auth, hours_editor
from service.core.api import PageBlueprint

blp = PageBlueprint(
    "console_hours",
    __name__,
    url_prefix="/admin/hours",
    description="The staff console's hours editor (HTML, not part of the API).",
)
auth.install(blp)


@blp.post("/editor")
@login_required
def editor():
    source = request.form.get("source", "expert")
    return render_template(
        "console/_hours_editor.html", editor=hours_editor.editor_state(request.form, source)
    )
