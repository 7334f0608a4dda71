# One image for every postsched process: the four services, migrations and fake-meta.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY protos protos
COPY postsched postsched
COPY services services
RUN pip install --no-cache-dir . && useradd --system --uid 10001 --no-create-home postsched
USER 10001
ENTRYPOINT ["postsched"]
CMD ["--help"]
