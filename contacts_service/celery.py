"""Celery application; workers and beat load tasks from every installed app."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contacts_service.settings")

app = Celery("contacts_service")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
