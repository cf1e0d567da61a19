# batchgate: slim, non-root, history on the /data volume.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY constraints/image.txt ./constraints/
COPY collector ./collector
COPY rules ./rules
COPY client ./client
# Both distributions: the server's wheel depends on batchgate-client, built here beside it,
# and the wheels of every dependency go to the same folder, at the versions the suite passed
# on (constraints/image.txt, written by .ci/lock-image).
RUN pip wheel --no-cache-dir --constraint constraints/image.txt --wheel-dir /wheels ./client .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin batchgate \
    && mkdir -p /data && chown batchgate /data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels batchgate && rm -rf /wheels
USER batchgate
VOLUME /data
EXPOSE 9091
ENV BATCHGATE_DATA_DIR=/data BATCHGATE_LISTEN=:9091
# Ready on the port and route prefix the server is given by the environment
# (BATCHGATE_LISTEN, BATCHGATE_ROUTE_PREFIX): set a prefix there, not as a flag.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('BATCHGATE_LISTEN', ':9091').rpartition(':')[2]; prefix = os.environ.get('BATCHGATE_ROUTE_PREFIX', '').rstrip('/'); sys.exit(urllib.request.urlopen(f'http://127.0.0.1:{port}{prefix}/-/ready', timeout=2).status != 200)"]
ENTRYPOINT ["batchgate"]
CMD ["serve"]
