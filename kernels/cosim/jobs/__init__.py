"""Background jobs (RL training) started from templates: see DESIGN.md, "Jobs".

- :mod:`.templates`: template.toml loading, param validation, new project folders
- :mod:`.state`: a job's folder, state.json and its Redis mirror
- :mod:`.manager`: start, stop, resume, delete, and reconcile jobs with their processes
- :mod:`.worker`: the job's leader process (``python -m cosim.jobs.worker``)
- :mod:`.training`: Stable-Baselines3 glue for template scripts (imports torch; load on demand)
- :mod:`.cli`: ``cosim template ...`` and ``cosim jobs ...``
"""

from .manager import JobManager, Limits
from .state import JobDir, JobError
from .templates import Template, TemplateError, get_template, list_templates

__all__ = [
    "JobDir",
    "JobError",
    "JobManager",
    "Limits",
    "Template",
    "TemplateError",
    "get_template",
    "list_templates",
]
