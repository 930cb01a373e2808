# The HVAE service. Configure with DATABASE_URL, CELERY_BROKER_URL, DJANGO_SECRET_KEY, LABEL_STUDIO_*.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=hvae_site.settings
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN DJANGO_SECRET_KEY=collectstatic-only python manage.py collectstatic --no-input --verbosity 0
RUN useradd --create-home hvae && chown -R hvae /app/var
USER hvae
EXPOSE 8000
CMD ["gunicorn", "hvae_site.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "2"]
