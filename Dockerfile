# One image for every Paperboy process: web (gunicorn), worker, beat and the migrate job.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PAPERBOY_VAR_DIR=/app/var \
    PROMETHEUS_MULTIPROC_DIR=/app/var/prometheus

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin paperboy
WORKDIR /app

# Dependencies first, so a code change does not reinstall them. PyTorch (for the ranking's
# sentence embeddings) comes from its CPU-only index: the default wheel pulls in CUDA, gigabytes
# that a CPU worker never uses.
COPY requirements.txt .
RUN pip install --index-url https://download.pytorch.org/whl/cpu "$(grep '^torch==' requirements.txt)" \
    && pip install -r requirements.txt

COPY . .

# collectstatic imports the settings, which refuse to load without a SECRET_KEY when DEBUG is off.
# The build argument exists only for this step: it is not kept in the image's environment.
ARG COLLECTSTATIC_SECRET_KEY=collectstatic-only-not-a-real-secret
RUN SECRET_KEY="$COLLECTSTATIC_SECRET_KEY" DEBUG=false python manage.py collectstatic --noinput \
    && mkdir -p /app/var/prometheus \
    && chown -R paperboy:paperboy /app/var

USER paperboy
EXPOSE 8000
# WEB_CONCURRENCY (read by gunicorn itself) sets the number of workers.
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--access-logfile", "-", "--config", "python:config.gunicorn"]
