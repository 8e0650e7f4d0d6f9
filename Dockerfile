FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY contacts_service ./contacts_service
COPY contacts ./contacts
COPY events ./events
COPY tags ./tags
COPY lists ./lists
COPY consent ./consent
COPY imports ./imports
COPY manage.py ./
RUN pip install --no-cache-dir .
RUN DJANGO_SECRET_KEY=build python manage.py collectstatic --noinput
EXPOSE 8000
CMD ["gunicorn", "-c", "python:contacts_service.gunicorn_conf", "contacts_service.wsgi"]
