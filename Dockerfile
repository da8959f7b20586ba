# One image serves every Tawa component; the platform chart picks the
# entrypoint (python -m tawa.<component>).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY tawa ./tawa
COPY cli ./cli
COPY operator ./operator
COPY registry ./registry
COPY gateway ./gateway
COPY identity ./identity
COPY wallet ./wallet
COPY localkube ./localkube
COPY charts/tawa-service /opt/tawa/charts/tawa-service
COPY scripts/fetch-helm.sh ./scripts/fetch-helm.sh
RUN pip wheel --no-deps --wheel-dir /wheels . \
 && pip wheel --wheel-dir /wheels . \
 && bash scripts/fetch-helm.sh && cp .tools/bin/helm /wheels/helm

FROM python:3.11-slim
RUN useradd --uid 10001 --create-home tawa
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl \
 && install -m 0755 /wheels/helm /usr/local/bin/helm && rm -rf /wheels
COPY --from=build /opt/tawa /opt/tawa
ENV TAWA_CHART_PATH=/opt/tawa/charts/tawa-service PYTHONUNBUFFERED=1
USER 10001
EXPOSE 8080
ENTRYPOINT []
CMD ["python", "-m", "tawa.gateway", "--host", "0.0.0.0", "--port", "8080"]
