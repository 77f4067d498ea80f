"""The {{ cookiecutter.project_slug }} benchmark, tracked with xetrack."""
