"""One handler per action type (:class:`spine.automation.models.ActionHandler`)."""
