# The production image (the default, last stage): the four services and migrations, nothing else.
# Development tools (postsched_devtools/: fake-meta, the fault suite) are left out; the "devtools"
# stage adds them, for docker compose's fake-meta.
FROM python:3.11-slim AS source
WORKDIR /app
COPY pyproject.toml README.md ./
COPY protos protos
COPY postsched postsched
COPY services services
RUN useradd --system --uid 10001 --no-create-home postsched

FROM source AS devtools
COPY postsched_devtools postsched_devtools
RUN pip install --no-cache-dir .
USER 10001
ENTRYPOINT ["postsched"]
CMD ["--help"]

FROM source AS production
RUN pip install --no-cache-dir .
USER 10001
ENTRYPOINT ["postsched"]
CMD ["--help"]
