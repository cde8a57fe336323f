# syntax=docker/dockerfile:1
# Colloquy's image: one image for every process (web, worker, beat, the migrations job); the
# command differs. See deploy/ and the README's "Deploying".
#
#   docker build -t colloquy .
#
# Stage 1 builds the virtualenv: PyICU compiles against libicu-dev, which the runtime image
# doesn't need (only the shared library).
FROM python:3.13-slim-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libicu-dev pkg-config g++ \
 && rm -rf /var/lib/apt/lists/*
RUN python -m venv /venv
ENV PATH=/venv/bin:$PATH
COPY requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir -r /tmp/requirements.txt

# Stage 2: the runtime, as an unprivileged user, with the static files collected at build.
FROM python:3.13-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends libicu72 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin colloquy
COPY --from=build /venv /venv
ENV PATH=/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DEBUG=false \
    STATIC_ROOT=/app/staticfiles \
    MEDIA_ROOT=/app/var/media \
    IMPORT_ROOT=/app/var/imports
WORKDIR /app
COPY . /app
# collectstatic needs settings, not a database or a real secret: placeholders for this step only.
RUN SECRET_KEY=collectstatic-only-not-a-secret DATABASE_URL=sqlite:////tmp/build.sqlite3 \
    python manage.py collectstatic --noinput -v 0 \
 && rm -f /tmp/build.sqlite3 \
 && mkdir -p /app/var/media /app/var/imports \
 && chown -R colloquy:colloquy /app/var
USER 10001:10001
EXPOSE 8000
CMD ["gunicorn", "-c", "deploy/gunicorn.conf.py", "config.wsgi"]
